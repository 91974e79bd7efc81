package containerd

import (
	"bufio"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// golden compares got with testdata/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from golden file (run with -update to accept):\n%s", name, got)
	}
}

func TestRenderConfig(t *testing.T) {
	cfg := Config{DataDir: "/var/lib/skiff", RegistryMirror: "http://127.0.0.1:6444"}.WithDefaults()
	got, err := renderConfig(cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "config.toml", got)

	unrestricted, err := renderConfig(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unrestricted), "restrict_oom_score_adj = false") {
		t.Errorf("config for a process with CAP_SYS_RESOURCE still restricts OOM scores")
	}
}

func TestHostsFiles(t *testing.T) {
	files, err := hostsFiles(Config{RegistryMirror: "http://127.0.0.1:6444"}.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"docker.io", "registry.k8s.io", "ghcr.io", "quay.io", "127.0.0.1:6444"} {
		if files[host] == nil {
			t.Errorf("no hosts.toml for %s", host)
		}
	}
	if len(files) != 5 {
		t.Errorf("%d hosts files, want 5", len(files))
	}
	golden(t, "hosts.toml", files["docker.io"])

	none, err := hostsFiles(Config{}.WithDefaults())
	if err != nil || len(none) != 0 {
		t.Errorf("hosts files without a mirror: %v, %v; want none", none, err)
	}
	all, err := hostsFiles(Config{RegistryMirror: "https://mirror.example:5000", MirroredRegistries: []string{"_default"}}.WithDefaults())
	if err != nil || len(all) != 2 || all["_default"] == nil || all["mirror.example:5000"] == nil {
		t.Errorf("hosts files for _default: %v, %v", all, err)
	}
}

func TestWriteConfig(t *testing.T) {
	cfg := Config{DataDir: t.TempDir(), RegistryMirror: "http://127.0.0.1:6444"}.WithDefaults()
	if err := os.MkdirAll(filepath.Join(cfg.HostsDir(), "stale.example"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeConfig(cfg, true); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{cfg.ConfigPath(), filepath.Join(cfg.HostsDir(), "docker.io", "hosts.toml"), cfg.Root, cfg.State, cfg.CNIConfDir} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("not written: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(cfg.HostsDir(), "stale.example")); !os.IsNotExist(err) {
		t.Errorf("hosts dir of an earlier start survived: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	c := Config{DataDir: "/d"}.WithDefaults()
	for got, want := range map[string]string{
		c.Root: "/d/containerd/root", c.State: "/d/containerd/state", c.Socket: "/d/containerd/containerd.sock",
		c.CNIBinDir: "/usr/lib/cni", c.CNIConfDir: "/d/cni/net.d", c.SandboxImage: "registry.k8s.io/pause:3.10",
		c.Endpoint(): "unix:///d/containerd/containerd.sock", c.LogPath(): "/d/containerd/containerd.log",
	} {
		if got != want {
			t.Errorf("default %q, want %q", got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	long := "/" + strings.Repeat("x", 120)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for valid
	}{
		{"minimal", Config{DataDir: "/d"}, ""},
		{"mirror", Config{DataDir: "/d", RegistryMirror: "http://127.0.0.1:6444"}, ""},
		{"no data dir", Config{}, "no data dir"},
		{"relative data dir", Config{DataDir: "d"}, "not an absolute path"},
		{"relative root", Config{DataDir: "/d", Root: "root"}, "not an absolute path"},
		{"long socket", Config{DataDir: long}, "longer than"},
		{"mirror without scheme", Config{DataDir: "/d", RegistryMirror: "127.0.0.1:6444"}, "want http(s)://host[:port]"},
		{"mirror with path", Config{DataDir: "/d", RegistryMirror: "http://m/x"}, "want http(s)://host[:port]"},
		{"bad mirrored registry", Config{DataDir: "/d", MirroredRegistries: []string{"../etc"}}, "not a registry host"},
		{"relative cgroup parent", Config{DataDir: "/d", CgroupParent: "skiff"}, "absolute cgroupfs path"},
		{"cgroup parent escaping", Config{DataDir: "/d", CgroupParent: "/a/../.."}, "absolute cgroupfs path"},
		{"negative timeout", Config{DataDir: "/d", StopTimeout: -1}, "negative"},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestHasCap(t *testing.T) {
	for _, tc := range []struct {
		status string
		want   bool
	}{
		{"Name:\tx\nCapEff:\t000001fffeffffff\n", false}, // root without CAP_SYS_RESOURCE
		{"CapEff:\t000001ffffffffff\n", true},
		{"CapEff:\t0000000000000000\n", false},
	} {
		got, err := hasCap(bufio.NewScanner(strings.NewReader(tc.status)), capSysResource)
		if err != nil || got != tc.want {
			t.Errorf("hasCap(%q) = %v, %v; want %v", tc.status, got, err, tc.want)
		}
	}
	if _, err := hasCap(bufio.NewScanner(strings.NewReader("Name:\tx\n")), capSysResource); err == nil {
		t.Errorf("no CapEff line: no error")
	}
	if _, err := hasCap(bufio.NewScanner(strings.NewReader("CapEff:\tzz\n")), capSysResource); err == nil {
		t.Errorf("malformed CapEff: no error")
	}
}

func TestTOMLString(t *testing.T) {
	for in, want := range map[string]string{
		`/a/b`:      `"/a/b"`,
		`say "hi"`:  `"say \"hi\""`,
		`back\that`: `"back\\that"`,
		"tab\there": `"tab\u0009here"`,
	} {
		if got := tomlString(in); got != want {
			t.Errorf("tomlString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/tmp/with\040space`); got != "/tmp/with space" {
		t.Errorf("unescapeMount = %q", got)
	}
	if got := unescapeMount(`/plain`); got != "/plain" {
		t.Errorf("unescapeMount = %q", got)
	}
}

func TestHasArgPair(t *testing.T) {
	args := []string{"containerd-shim-runc-v2", "-namespace", "k8s.io", "-address", "/d/containerd.sock"}
	if !hasArgPair(args, "-address", "/d/containerd.sock") || hasArgPair(args, "-address", "/other.sock") {
		t.Errorf("hasArgPair misreads %v", args)
	}
	if !hasArgPair([]string{"containerd", "--config=/d/config.toml"}, "--config", "/d/config.toml") {
		t.Errorf("hasArgPair misses --flag=value")
	}
}
