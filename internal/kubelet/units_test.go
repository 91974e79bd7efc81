package kubelet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	for in, want := range map[string]string{
		"plain":           "plain",
		"$(A)":            "1",
		"x$(A)y$(B)z":     "x1ytwoz",
		"$$(A)":           "$(A)",
		"$(MISSING)":      "$(MISSING)",
		"$(A":             "$(A",
		"$A $":            "$A $",
		"$$$(A)":          "$1",
		"$()":             "$()",
		"cost: $$5 $(B)s": "cost: $5 twos",
	} {
		if got := expand(in, lookup); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDNSConfig(t *testing.T) {
	k := &Kubelet{cfg: Config{ClusterDNS: []string{"10.43.0.10"}, ClusterDomain: "cluster.local"},
		hostDNS: &resolvConf{nameservers: []string{"1.1.1.1"}, searches: []string{"corp.example"}, options: []string{"timeout:2"}}}
	pod := func(policy corev1.DNSPolicy, hostNet bool) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop"}, Spec: corev1.PodSpec{DNSPolicy: policy, HostNetwork: hostNet}}
	}
	render := func(c *runtimeapi.DNSConfig) string {
		return strings.Join(c.Servers, ",") + "|" + strings.Join(c.Searches, ",") + "|" + strings.Join(c.Options, ",")
	}
	for _, tc := range []struct {
		pod  *corev1.Pod
		want string
	}{
		{pod("", false), "10.43.0.10|shop.svc.cluster.local,svc.cluster.local,cluster.local,corp.example|ndots:5"},
		{pod(corev1.DNSClusterFirst, true), "1.1.1.1|corp.example|timeout:2"},
		{pod(corev1.DNSClusterFirstWithHostNet, true), "10.43.0.10|shop.svc.cluster.local,svc.cluster.local,cluster.local,corp.example|ndots:5"},
		{pod(corev1.DNSDefault, false), "1.1.1.1|corp.example|timeout:2"},
		{pod(corev1.DNSNone, false), "||"},
	} {
		cfg, _ := k.dnsConfig(tc.pod)
		if got := render(cfg); got != tc.want {
			t.Errorf("%s hostNetwork=%v: %s, want %s", tc.pod.Spec.DNSPolicy, tc.pod.Spec.HostNetwork, got, tc.want)
		}
	}
	two := "2"
	custom := pod(corev1.DNSClusterFirst, false)
	custom.Spec.DNSConfig = &corev1.PodDNSConfig{
		Nameservers: []string{"8.8.8.8"}, Searches: []string{"extra.local", "cluster.local"},
		Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}, {Name: "edns0"}},
	}
	cfg, _ := k.dnsConfig(custom)
	if got := render(cfg); got != "10.43.0.10,8.8.8.8|shop.svc.cluster.local,svc.cluster.local,cluster.local,corp.example,extra.local|ndots:2,edns0" {
		t.Errorf("merged dnsConfig: %s", got)
	}
	noDNS := &Kubelet{cfg: Config{ClusterDomain: "cluster.local"}, hostDNS: k.hostDNS}
	if cfg, warning := noDNS.dnsConfig(pod("", false)); render(cfg) != "1.1.1.1|corp.example|timeout:2" || warning == "" {
		t.Errorf("without cluster DNS: %s (warning %q)", render(cfg), warning)
	}
}

func TestOOMScoreAdj(t *testing.T) {
	burstable := &corev1.Container{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}}
	capacity := int64(4 << 30)
	for _, tc := range []struct {
		qos      corev1.PodQOSClass
		c        *corev1.Container
		canLower bool
		want     int64
	}{
		{corev1.PodQOSGuaranteed, &corev1.Container{}, true, -997},
		{corev1.PodQOSGuaranteed, &corev1.Container{}, false, 0},
		{corev1.PodQOSBestEffort, &corev1.Container{}, false, 1000},
		{corev1.PodQOSBurstable, burstable, false, 750},
		{corev1.PodQOSBurstable, &corev1.Container{}, true, 999},
	} {
		if got := oomScoreAdj(tc.qos, tc.c, capacity, tc.canLower); got != tc.want {
			t.Errorf("oomScoreAdj(%s, canLower=%v) = %d, want %d", tc.qos, tc.canLower, got, tc.want)
		}
	}
}

func TestResolveSubPath(t *testing.T) {
	vol := t.TempDir()
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(vol, "data", "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(vol, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("data", filepath.Join(vol, "inside")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../..", filepath.Join(vol, "data", "up")); err != nil {
		t.Fatal(err)
	}
	realVol, _ := filepath.EvalSymlinks(vol)
	for sub, want := range map[string]string{
		"data/logs":   filepath.Join(realVol, "data", "logs"),
		"inside/logs": filepath.Join(realVol, "data", "logs"),
		"new/dir":     filepath.Join(realVol, "new", "dir"),
	} {
		got, err := resolveSubPath(vol, sub)
		if err != nil || got != want {
			t.Errorf("resolveSubPath(%q) = %q, %v; want %q", sub, got, err, want)
		}
	}
	for _, sub := range []string{"escape", "escape/x", "data/up", "../x", "/etc", "data/../../x"} {
		if got, err := resolveSubPath(vol, sub); err == nil {
			t.Errorf("resolveSubPath(%q) = %q, want an error", sub, got)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
		t.Errorf("a directory was created outside the volume")
	}
}

func TestContainerSecurityContext(t *testing.T) {
	yes, no := true, false
	uid, podUID, gid := int64(1000), int64(2000), int64(3000)
	pod := &corev1.Pod{Spec: corev1.PodSpec{HostPID: true, SecurityContext: &corev1.PodSecurityContext{
		RunAsUser: &podUID, RunAsGroup: &gid, SupplementalGroups: []int64{5},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}}}
	c := &corev1.Container{Name: "app", SecurityContext: &corev1.SecurityContext{
		RunAsUser: &uid, ReadOnlyRootFilesystem: &yes, AllowPrivilegeEscalation: &no,
		Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}, Drop: []corev1.Capability{"ALL"}},
	}}
	sc := containerSecurityContext(pod, c)
	if sc.RunAsUser.GetValue() != 1000 || sc.RunAsGroup.GetValue() != 3000 || !sc.ReadonlyRootfs || !sc.NoNewPrivs ||
		sc.Privileged || sc.Seccomp.ProfileType != runtimeapi.SecurityProfile_RuntimeDefault ||
		sc.NamespaceOptions.Pid != runtimeapi.NamespaceMode_NODE || sc.NamespaceOptions.Network != runtimeapi.NamespaceMode_POD ||
		strings.Join(sc.Capabilities.AddCapabilities, ",") != "NET_ADMIN" || strings.Join(sc.Capabilities.DropCapabilities, ",") != "ALL" ||
		len(sc.MaskedPaths) == 0 || len(sc.SupplementalGroups) != 1 {
		t.Errorf("security context = %+v", sc)
	}
	priv := containerSecurityContext(&corev1.Pod{}, &corev1.Container{SecurityContext: &corev1.SecurityContext{Privileged: &yes}})
	if !priv.Privileged || len(priv.MaskedPaths) != 0 || priv.Seccomp.ProfileType != runtimeapi.SecurityProfile_Unconfined {
		t.Errorf("privileged = %+v", priv)
	}

	nonRoot := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes}}}
	root := int64(0)
	if err := verifyRunAsNonRoot(nonRoot, &corev1.Container{Name: "a"}, &root, ""); err == nil || !strings.Contains(err.Error(), "image will run as root") {
		t.Errorf("root image: %v", err)
	}
	if err := verifyRunAsNonRoot(nonRoot, &corev1.Container{Name: "a"}, nil, "nginx"); err == nil || !strings.Contains(err.Error(), "non-numeric user (nginx)") {
		t.Errorf("named user: %v", err)
	}
	if err := verifyRunAsNonRoot(nonRoot, &corev1.Container{Name: "a", SecurityContext: &corev1.SecurityContext{RunAsUser: &uid}}, &root, ""); err != nil {
		t.Errorf("explicit non-root user: %v", err)
	}
}

func TestBackOff(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	b := newBackOff(clk, 10*time.Second, 40*time.Second)
	exit := clk.Now()
	if in, _, _ := b.InBackOffSince("c", exit); in {
		t.Fatal("first exit is not backed off")
	}
	b.Next("c", exit)
	for _, want := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 40 * time.Second} {
		exit = clk.Now()
		in, delay, end := b.InBackOffSince("c", exit)
		if !in || delay != want || !end.Equal(exit.Add(want)) {
			t.Fatalf("in %v delay %v, want %v", in, delay, want)
		}
		clk.Step(want)
		if in, _, _ := b.InBackOffSince("c", exit); in {
			t.Fatalf("still in backoff after %v", want)
		}
		b.Next("c", exit)
	}
	// Running for longer than twice the cap starts over.
	clk.Step(81 * time.Second)
	if in, _, _ := b.InBackOffSince("c", clk.Now()); in {
		t.Fatal("backoff not reset after a long run")
	}
}

func TestTailLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	var b strings.Builder
	for i := 0; i < 100; i++ {
		b.WriteString("2025-01-01T00:00:00.000000000Z stdout F line ")
		b.WriteString(strings.Repeat("x", i%3))
		b.WriteString("\n")
	}
	b.WriteString("2025-01-01T00:00:00Z stderr P part1 \n2025-01-01T00:00:00Z stderr F part2\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	got := tailLog(path, 80, 2048)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 80 || lines[79] != "part1 part2" || !strings.HasPrefix(lines[0], "line ") {
		t.Errorf("tail: %d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestPodPhase(t *testing.T) {
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	exited := func(code int32) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}
	}
	waiting := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}
	pod := func(policy corev1.RestartPolicy) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: policy, Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}}}
	}
	status := func(a, b corev1.ContainerState) *corev1.PodStatus {
		return &corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: a}, {Name: "b", State: b}}}
	}
	for _, tc := range []struct {
		policy   corev1.RestartPolicy
		a, b     corev1.ContainerState
		terminal bool
		want     corev1.PodPhase
	}{
		{corev1.RestartPolicyAlways, running, waiting, false, corev1.PodPending},
		{corev1.RestartPolicyAlways, running, running, false, corev1.PodRunning},
		{corev1.RestartPolicyAlways, exited(0), exited(1), false, corev1.PodRunning},
		{corev1.RestartPolicyNever, exited(0), exited(0), false, corev1.PodSucceeded},
		{corev1.RestartPolicyNever, exited(0), exited(1), false, corev1.PodFailed},
		{corev1.RestartPolicyOnFailure, exited(0), exited(1), false, corev1.PodRunning},
		{corev1.RestartPolicyOnFailure, exited(0), exited(0), false, corev1.PodSucceeded},
		{corev1.RestartPolicyNever, running, exited(1), false, corev1.PodRunning},
		{corev1.RestartPolicyAlways, exited(143), exited(0), true, corev1.PodFailed},
		{corev1.RestartPolicyAlways, exited(0), exited(0), true, corev1.PodSucceeded},
	} {
		if got := podPhase(pod(tc.policy), status(tc.a, tc.b), tc.terminal); got != tc.want {
			t.Errorf("%s %v/%v terminal=%v: %s, want %s", tc.policy, tc.a, tc.b, tc.terminal, got, tc.want)
		}
	}
}

func TestHostsFile(t *testing.T) {
	k := &Kubelet{cfg: Config{RootDir: t.TempDir(), ClusterDomain: "cluster.local"}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop", UID: "u1"},
		Spec: corev1.PodSpec{Hostname: "web-0", Subdomain: "web",
			HostAliases: []corev1.HostAlias{{IP: "10.9.9.9", Hostnames: []string{"db", "db.local"}}}},
	}
	if err := k.ensureHostsFile(pod, []string{"10.88.0.5"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(k.hostsFilePath(pod))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.88.0.5\tweb-0.web.shop.svc.cluster.local\tweb-0\n", "10.9.9.9\tdb\tdb.local\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("hosts file lacks %q:\n%s", want, data)
		}
	}
}
