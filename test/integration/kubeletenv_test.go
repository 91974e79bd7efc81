package integration

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/auth"
	kubeletserver "github.com/skiff-sh/skiff/internal/kubelet/server"
	"github.com/skiff-sh/skiff/internal/kubelet/server/streamtest"
	"github.com/skiff-sh/skiff/internal/storage/etcdtest"
)

// kubeletEnv is an API server that reaches kubelets with a client
// certificate, and one kubelet server (node n1 at 127.0.0.1) in front of
// a streamtest runtime, both certified by one test CA.
type kubeletEnv struct {
	kubeconfig  string
	cs          kubernetes.Interface
	ca          *auth.CA
	kubeletAddr string
	runtime     *streamtest.Runtime
	pods        *testPods
	logDir      string
	// upgrades records the Upgrade header of each streaming request the
	// API server saw, to tell WebSocket from SPDY.
	upgrades *upgradeLog
}

type upgradeLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *upgradeLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, s)
}

// take returns and forgets what was recorded.
func (l *upgradeLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.seen
	l.seen = nil
	return out
}

func quietLogger() *slog.Logger {
	if os.Getenv("SKIFF_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startKubeletEnv(t *testing.T) *kubeletEnv {
	t.Helper()
	dir := t.TempDir()
	ca, err := auth.EnsureCA(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	env := &kubeletEnv{ca: ca, logDir: filepath.Join(dir, "logs"), upgrades: &upgradeLog{}}
	if err := os.MkdirAll(env.logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})

	// The API server, with its kubelet client certificate.
	etcd, prefix := etcdtest.Start(t)
	clientCert, clientKey, err := auth.IssueClientCert(ca, kubeletserver.APIServerKubeletClientUser, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	api, err := apiserver.New(apiserver.Config{Etcd: etcd, KeyPrefix: prefix + "/registry",
		Authenticator: auth.NewX509Authenticator(ca.Pool()), Authorizer: auth.AlwaysAllow{},
		KubeletClientTLS:   &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: ca.Pool()},
		CompactionInterval: -1, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	serving, err := auth.EnsureServingCert(filepath.Join(dir, "api"), ca, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	handler := api.Handler()
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if up := r.Header.Get("Upgrade"); up != "" {
				env.upgrades.add(strings.ToLower(up))
			}
			handler.ServeHTTP(w, r)
		}),
		TLSConfig:         auth.ServerTLSConfig(serving, ca),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(quietLogger().Handler(), slog.LevelDebug),
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = hs.Serve(tls.NewListener(apiLn, hs.TLSConfig))
	}()
	go func() {
		defer wg.Done()
		<-ctx.Done()
		_ = hs.Close()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = api.Start(ctx)
	}()
	for deadline := time.Now().Add(30 * time.Second); !api.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("API server not ready")
		}
	}
	adminCert, adminKey, err := auth.IssueClientCert(ca, "system:admin", []string{"system:masters"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	env.kubeconfig = filepath.Join(dir, "admin.kubeconfig")
	if err := auth.WriteKubeconfig(env.kubeconfig, "https://"+apiLn.Addr().String(), ca.CertPEM, adminCert, adminKey, "default", "default"); err != nil {
		t.Fatal(err)
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", env.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if env.cs, err = kubernetes.NewForConfig(restCfg); err != nil {
		t.Fatal(err)
	}

	// The kubelet server, certified for 127.0.0.1 by the same CA.
	kubeletServing, err := auth.EnsureServingCert(filepath.Join(dir, "kubelet"), ca, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	streams := streamtest.NewStreamServer()
	t.Cleanup(streams.Close)
	env.runtime = streamtest.NewRuntime(streams)
	env.pods = &testPods{pods: map[string]*corev1.Pod{}, containers: map[string]string{}, sandboxes: map[types.UID]string{}}
	kubelet, err := kubeletserver.New(kubeletserver.Config{TLSCert: kubeletServing, ClientCAs: ca.Pool(),
		Pods: env.pods, Containers: env.pods, Runtime: env.runtime, LogPollInterval: 20 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	kubeletLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.kubeletAddr = kubeletLn.Addr().String()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := kubelet.Serve(ctx, kubeletLn); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("kubelet server: %v", err)
		}
	}()

	// Node n1 says where its kubelet is.
	_, port, _ := net.SplitHostPort(env.kubeletAddr)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	created, err := env.cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1.invalid"}, {Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	portNum, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	created.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(portNum)
	if _, err := env.cs.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return env
}

// addPod creates a pod on n1 with the given containers, reports it
// running (or its containers waiting with waitingReason) and gives each
// container a runtime container with the log lines given.
func (e *kubeletEnv) addPod(t *testing.T, name string, containers []string, waitingReason string, logs string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.PodSpec{NodeName: "n1"}}
	for _, c := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c, Image: "busybox"})
	}
	created, err := e.cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.Phase = corev1.PodRunning
	for _, c := range containers {
		st := corev1.ContainerStatus{Name: c, Image: "busybox"}
		if waitingReason != "" {
			st.State.Waiting = &corev1.ContainerStateWaiting{Reason: waitingReason}
			created.Status.Phase = corev1.PodPending
		} else {
			st.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.Now()}
			st.Ready, st.ContainerID = true, "test://"+name+"-"+c
		}
		created.Status.ContainerStatuses = append(created.Status.ContainerStatuses, st)
	}
	updated, err := e.cs.CoreV1().Pods("default").UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if waitingReason == "" {
		for _, c := range containers {
			id := name + "-" + c
			logPath := filepath.Join(e.logDir, id+".log")
			if err := os.WriteFile(logPath, []byte(logs), 0o644); err != nil {
				t.Fatal(err)
			}
			e.runtime.SetContainer(id, runtimeapi.ContainerState_CONTAINER_RUNNING, logPath)
			e.pods.setContainer(updated.UID, c, id)
		}
		e.runtime.SetSandbox("sandbox-" + name)
		e.pods.setSandbox(updated.UID, "sandbox-"+name)
	}
	e.pods.setPod(updated)
	return updated
}

func (e *kubeletEnv) logPath(pod, container string) string {
	return filepath.Join(e.logDir, pod+"-"+container+".log")
}

// testPods is the kubelet's PodSource and ContainerSource.
type testPods struct {
	mu         sync.Mutex
	pods       map[string]*corev1.Pod
	containers map[string]string // uid/name -> runtime container ID
	sandboxes  map[types.UID]string
}

func (p *testPods) setPod(pod *corev1.Pod) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pods[pod.Namespace+"/"+pod.Name] = pod
}

func (p *testPods) setContainer(uid types.UID, name, id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.containers[string(uid)+"/"+name] = id
}

func (p *testPods) setSandbox(uid types.UID, id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sandboxes[uid] = id
}

func (p *testPods) GetPod(ns, name string) (*corev1.Pod, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pod, ok := p.pods[ns+"/"+name]
	return pod, ok
}

func (p *testPods) ListPods() []*corev1.Pod {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*corev1.Pod
	for _, pod := range p.pods {
		out = append(out, pod)
	}
	return out
}

func (p *testPods) Container(uid types.UID, name string, previous bool) (kubeletserver.ContainerInfo, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id, ok := p.containers[string(uid)+"/"+name]
	if !ok || previous {
		return kubeletserver.ContainerInfo{}, false
	}
	return kubeletserver.ContainerInfo{ID: id}, true
}

func (p *testPods) Sandbox(uid types.UID) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id, ok := p.sandboxes[uid]
	return id, ok
}
