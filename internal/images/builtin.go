package images

import (
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Names of the built-in images, as pods and containerd's configuration
// refer to them.
const (
	// PauseImage is the pod sandbox image; configure containerd's
	// sandbox_image to it (containerd 1.6 defaults to pause:3.6).
	PauseImage = "registry.k8s.io/pause:3.10"
	// BusyboxImage is Debian's busybox-static as an image.
	BusyboxImage = "docker.io/library/busybox:1.36"
	// TestServerImage is skiff's test server (agnhost's subcommands).
	TestServerImage = "registry.k8s.io/e2e-test-images/agnhost:2.52"
)

// Sources are the host files the built-in images are made of.
type Sources struct {
	// Executable is a static skiff binary; it becomes /pause, /agnhost and
	// /testserver, which run pause.Main or testserver.Main through
	// Multicall. Default: the running executable.
	Executable string
	// Busybox is a static busybox. Default: /bin/busybox (Debian's
	// busybox-static).
	Busybox string
}

// DefaultSources returns the running executable and /bin/busybox.
func DefaultSources() (Sources, error) {
	exe, err := os.Executable()
	if err != nil {
		return Sources{}, fmt.Errorf("finding the skiff executable: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return Sources{Executable: exe, Busybox: "/bin/busybox"}, nil
}

// Builtin is a built-in image and every name it is pushed under.
type Builtin struct {
	Names []string
	Image v1.Image
}

// BuildBuiltins builds the pause, busybox and test server images from src.
// The skiff binary is one layer shared by the pause and test server images
// (stored once); the test server image also has the busybox layer below
// it, so exec probes and `kubectl exec -- sh` work in it. Building is
// deterministic: the same files give the same digests.
func BuildBuiltins(src Sources) ([]Builtin, error) {
	exeArch, err := staticArch(src.Executable)
	if err != nil {
		return nil, err
	}
	bbArch, err := staticArch(src.Busybox)
	if err != nil {
		return nil, err
	}
	if exeArch != bbArch {
		return nil, fmt.Errorf("%s is built for %s but %s for %s; the images need one architecture", src.Executable, exeArch, src.Busybox, bbArch)
	}
	skiffLayer, err := buildLayer([]layerFile{
		hostFileEntry("skiff", 0o755, src.Executable),
		symlinkEntry("pause", "skiff"),
		symlinkEntry("agnhost", "skiff"),
		symlinkEntry("testserver", "skiff"),
	})
	if err != nil {
		return nil, fmt.Errorf("building the skiff layer: %w", err)
	}
	bbFiles, err := busyboxFiles(src.Busybox)
	if err != nil {
		return nil, err
	}
	bbLayer, err := buildLayer(bbFiles)
	if err != nil {
		return nil, fmt.Errorf("building the busybox layer: %w", err)
	}

	const path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	skiffStep := layerStep{skiffLayer, "skiff: static skiff binary as /pause, /agnhost, /testserver"}
	bbStep := layerStep{bbLayer, "skiff: busybox from " + src.Busybox + " with its applets in /bin"}
	pause, err := buildImage(exeArch, v1.Config{
		Entrypoint: []string{"/pause"},
		User:       "65535:65535",
		Env:        []string{path},
	}, skiffStep)
	if err != nil {
		return nil, err
	}
	busybox, err := buildImage(exeArch, v1.Config{Cmd: []string{"sh"}, Env: []string{path}}, bbStep)
	if err != nil {
		return nil, err
	}
	testServer, err := buildImage(exeArch, v1.Config{Entrypoint: []string{"/agnhost"}, Env: []string{path}}, bbStep, skiffStep)
	if err != nil {
		return nil, err
	}
	return []Builtin{
		{Names: []string{PauseImage, "skiff/pause:latest"}, Image: pause},
		{Names: []string{BusyboxImage, "docker.io/library/busybox:latest"}, Image: busybox},
		{Names: []string{TestServerImage, "skiff/testserver:latest"}, Image: testServer},
	}, nil
}

type layerStep struct {
	layer     v1.Layer
	createdBy string
}

// buildImage assembles an OCI image for linux/arch with a fixed creation
// time.
func buildImage(arch string, cfg v1.Config, steps ...layerStep) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, s := range steps {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:   s.layer,
			History: v1.History{Created: v1.Time{Time: builtinTime}, CreatedBy: s.createdBy},
		})
		if err != nil {
			return nil, err
		}
	}
	base, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf := base.DeepCopy()
	cf.Architecture = arch
	cf.OS = "linux"
	cf.Created = v1.Time{Time: builtinTime}
	cf.Config = cfg
	if cf.Config.WorkingDir == "" {
		cf.Config.WorkingDir = "/"
	}
	return mutate.ConfigFile(img, cf)
}
