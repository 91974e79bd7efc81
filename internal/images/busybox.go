package images

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Accounts every image built on busybox has: root, and nobody for
// containers that run as a non-root user.
const (
	etcPasswd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	etcGroup  = "root:x:0:\nnobody:x:65534:\n"
)

// busyboxFiles is a minimal Unix root filesystem around a static busybox:
// /bin/busybox, a symlink in /bin for each of its applets (so /bin/sh
// exists), /usr/bin/env for scripts' #! lines, /etc/passwd and /etc/group,
// /tmp (1777) and /root.
func busyboxFiles(busybox string) ([]layerFile, error) {
	applets, err := busyboxApplets(busybox)
	if err != nil {
		return nil, err
	}
	files := []layerFile{
		dirEntry("bin", 0o755),
		hostFileEntry("bin/busybox", 0o755, busybox),
		dirEntry("etc", 0o755),
		fileEntry("etc/passwd", 0o644, []byte(etcPasswd)),
		fileEntry("etc/group", 0o644, []byte(etcGroup)),
		dirEntry("root", 0o700),
		dirEntry("tmp", 0o1777),
		dirEntry("usr", 0o755),
		dirEntry("usr/bin", 0o755),
		symlinkEntry("usr/bin/env", "../../bin/busybox"),
	}
	for _, a := range applets {
		files = append(files, symlinkEntry("bin/"+a, "busybox"))
	}
	return files, nil
}

// busyboxApplets asks the busybox binary which applets it has.
func busyboxApplets(busybox string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, busybox, "--list")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the applets of %s: %w: %s", busybox, err, strings.TrimSpace(stderr.String()))
	}
	var applets []string
	for _, a := range strings.Fields(string(out)) {
		if a == "busybox" || strings.ContainsAny(a, "/\x00") || a == "." || a == ".." {
			continue
		}
		applets = append(applets, a)
	}
	if len(applets) == 0 {
		return nil, fmt.Errorf("%s --list printed no applets", busybox)
	}
	return applets, nil
}
