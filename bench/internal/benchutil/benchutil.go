// Package benchutil starts the skiff binary for benchmarks and reports
// results: a table on stdout and JSON on disk, stamped with the machine and
// commit. Benchmarks never fail on timing; they report.
package benchutil

import (
	"bytes"
	"context"
	"crypto/tls"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/clusterbench"
)

// Server is a skiff server process.
type Server struct {
	Log     *os.File // where its output goes; other processes of the run may share it
	Cmd     *exec.Cmd
	DataDir string
	Port    int
	// EtcdURL is the embedded etcd's client URL; its /metrics has etcd's
	// own series (disk, raft), which the API server's /metrics has not.
	EtcdURL    string
	Kubeconfig string
	Started    time.Time
	// ReadyAfter is the time from exec to /readyz 200.
	ReadyAfter time.Duration
}

// FreePort asks the kernel for a free loopback port.
func FreePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartServer runs `bin server` on loopback ports with dataDir (and any
// extra flags) and waits for /readyz.
func StartServer(bin, dataDir string, logTo *os.File, extra ...string) (*Server, error) {
	s := &Server{DataDir: dataDir, Port: FreePort(), Log: logTo, EtcdURL: fmt.Sprintf("http://127.0.0.1:%d", FreePort())}
	args := []string{"server", "--data-dir", dataDir, "--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(s.Port),
		"--embedded-etcd-client-url", s.EtcdURL,
		"--embedded-etcd-peer-url", fmt.Sprintf("http://127.0.0.1:%d", FreePort()),
		"--log-level", "warn", "--disable-registry", "--disable-agent", "--disable-dns"}
	args = append(args, extra...)
	s.Cmd = exec.Command(bin, args...)
	s.Cmd.SysProcAttr = ChildProcAttr()
	if logTo != nil {
		s.Cmd.Stdout, s.Cmd.Stderr = logTo, logTo
	}
	s.Started = time.Now()
	if err := s.Cmd.Start(); err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	url := fmt.Sprintf("https://127.0.0.1:%d/readyz", s.Port)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				s.ReadyAfter = time.Since(s.Started)
				s.Kubeconfig = filepath.Join(dataDir, "admin.kubeconfig")
				return s, nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	s.Stop()
	return nil, fmt.Errorf("server not ready within 60s")
}

// Stop sends SIGTERM and waits (SIGKILL after 10 s).
func (s *Server) Stop() {
	if s.Cmd == nil || s.Cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.Cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.Cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.Cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// RSSBytes reads the resident set size of pid from /proc.
func RSSBytes(pid int) int64 { return statusBytes(pid, "VmRSS:") }

// RSSFileBytes is the part of pid's RSS that maps files: for a server
// with embedded etcd, mostly the database's pages, which the kernel can
// drop and read again (RssFile in /proc/pid/status).
func RSSFileBytes(pid int) int64 { return statusBytes(pid, "RssFile:") }

// statusBytes reads a kB field of /proc/pid/status, 0 if it cannot.
func statusBytes(pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field) {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// Percentile of sorted durations (p in 0..100).
func Percentile(sorted []time.Duration, p float64) time.Duration {
	return clusterbench.Percentile(sorted, p)
}

// Summary of a latency sample.
type Summary = clusterbench.Summary

// Summarize sorts d and summarises it.
func Summarize(d []time.Duration, wall time.Duration) Summary {
	return clusterbench.Summarize(d, wall)
}

// Report is one benchmark program's output.
type Report struct {
	Name    string                 `json:"name"`
	Time    time.Time              `json:"time"`
	Commit  string                 `json:"commit"`
	Machine map[string]interface{} `json:"machine"`
	Results map[string]interface{} `json:"results"`
}

// NewReport stamps a report with the machine and commit.
func NewReport(name string) *Report {
	commit, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	mem := int64(0)
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		fmt.Sscanf(strings.SplitN(string(data), "\n", 2)[0], "MemTotal: %d kB", &mem)
	}
	return &Report{Name: name, Time: time.Now().UTC(), Commit: strings.TrimSpace(string(commit)),
		Machine: map[string]interface{}{"cores": runtime.NumCPU(), "memory_bytes": mem * 1024, "go": runtime.Version(),
			"calibration_ms": calibrationMS},
		Results: map[string]interface{}{}}
}

// calibrationMS is Calibrate's figure, taken as the program starts,
// before it starts a server or anything else that would load the
// machine.
var calibrationMS = Calibrate()

// Calibrate times a fixed piece of one core's work, in milliseconds
// (the best of three): 4,000 JSON encodes and decodes of a pod-sized
// object, allocation and GC included, the kind of work an API server
// does. This machine is shared, and its speed varies from day to day
// by half or more; a report records the figure with every result so
// runs of different days can be compared for it.
func Calibrate() float64 {
	type container struct {
		Name, Image string
		Args        []string
		Env         map[string]string
		Ports       []int32
	}
	type object struct {
		Name, Namespace, UID string
		Labels, Annotations  map[string]string
		Containers           []container
		Conditions           []map[string]string
	}
	obj := object{Name: "web-7c9f8d6b5-x2x4z", Namespace: "default", UID: "4f9c2a1e-0b7d-4c3e-9a8f-1d2e3f4a5b6c",
		Labels:      map[string]string{"app": "web", "pod-template-hash": "7c9f8d6b5"},
		Annotations: map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-11-29T10:00:00Z"}}
	for i := range 3 {
		obj.Containers = append(obj.Containers, container{Name: fmt.Sprintf("c%d", i), Image: "registry.local/web:1.2.3",
			Args: []string{"--port=8080", "--verbose"}, Env: map[string]string{"MODE": "prod", "REPLICA": strconv.Itoa(i)}, Ports: []int32{8080, 9090}})
		obj.Conditions = append(obj.Conditions, map[string]string{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-29T10:00:00Z"})
	}
	best := time.Duration(0)
	for range 3 {
		start := time.Now()
		for range 4000 {
			data, err := json.Marshal(&obj)
			if err != nil {
				panic(err)
			}
			var back object
			if err := json.Unmarshal(data, &back); err != nil {
				panic(err)
			}
		}
		if d := time.Since(start); best == 0 || d < best {
			best = d
		}
	}
	return float64(best.Microseconds()) / 1000
}

// Write stores the report as JSON under dir/<name>.json.
func (r *Report) Write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, r.Name+".json")
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, data, 0o644)
}

// Ctx is a context with a timeout, for benchmark phases.
func Ctx(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// Measure runs n calls over conc workers and summarises their latency.
func Measure(n, conc int, call func(i int) error) Summary {
	start := time.Now()
	lat := MeasureSamples(n, conc, call)
	return Summarize(lat, time.Since(start))
}

// MeasureSamples runs n calls over conc workers and returns each call's
// latency, in call order; failures are counted on stderr.
func MeasureSamples(n, conc int, call func(i int) error) []time.Duration {
	lat, failed, first := clusterbench.Sample(n, conc, call)
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "%d errors; the first: %v\n", failed, first)
	}
	return lat
}

// BinaryVersion is what a skiff binary says its version is, with the Go
// experiments it was built with (GOEXPERIMENT) when there are any, so a
// result names the builds it compared.
func BinaryVersion(path string) string {
	out, err := exec.Command(path, "version").CombinedOutput() // builds before 134619e printed it on stderr
	v := strings.TrimSpace(string(out))
	if err != nil {
		v = path + ": " + err.Error()
	}
	if bi, err := buildinfo.ReadFile(path); err == nil {
		for _, s := range bi.Settings {
			if s.Key == "GOEXPERIMENT" && s.Value != "" {
				v += " GOEXPERIMENT=" + s.Value
			}
		}
	}
	return v
}

// EnvOr is the environment variable k, or def when it is unset or empty.
func EnvOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// MergeEarlier keeps the results of an earlier run in path (other
// sizes of the same benchmark) that this run does not replace.
func (r *Report) MergeEarlier(path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var old Report
	if json.Unmarshal(data, &old) == nil {
		for k, v := range old.Results {
			r.Results[k] = v
		}
	}
}

// CPUTicks is utime+stime of pid from /proc/<pid>/stat (USER_HZ 100).
func CPUTicks(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// MachineCPUTicks is the machine's busy and total CPU time in clock
// ticks, from the first line of /proc/stat (busy is all but idle and
// iowait).
func MachineCPUTicks() (busy, total int64) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}

// EtcdSize is the size of etcd's bbolt file(s) under dir, or of all of
// dir when there is none.
func EtcdSize(dir string) int64 {
	var db, all int64
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		all += fi.Size()
		if fi.Name() == "db" && filepath.Base(filepath.Dir(p)) == "snap" {
			db += fi.Size()
		}
		return nil
	})
	if db > 0 {
		return db
	}
	return all
}

// StartInTemp starts a server with its data in a fresh temporary
// directory named after name, its output in a log file there. stop stops
// the server and removes the directory.
func StartInTemp(bin, name string, extra ...string) (srv *Server, stop func(), err error) {
	tmp, err := os.MkdirTemp("", "skiff-bench-"+name+"-")
	if err != nil {
		return nil, nil, err
	}
	logf, err := os.Create(filepath.Join(tmp, "log"))
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, err
	}
	srv, err = StartServer(bin, filepath.Join(tmp, "data"), logf, extra...)
	if err != nil {
		logf.Close()
		os.RemoveAll(tmp)
		return nil, nil, err
	}
	var once sync.Once
	stop = func() { once.Do(func() { srv.Stop(); logf.Close(); os.RemoveAll(tmp) }) }
	OnInterrupt(stop)
	return srv, stop, nil
}

// ChildProcAttr puts a child in its own process group (so the whole
// group can be signalled) and has the kernel kill it if the benchmark
// dies first.
func ChildProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

var interrupt struct {
	once     sync.Once
	mu       sync.Mutex
	cleanups []func()
}

// OnInterrupt has f run (after those registered later) if the benchmark
// is interrupted (SIGINT or SIGTERM), which then exits with status 130:
// servers, hollow nodes and temporary directories do not outlive it. f
// must be safe to call after it has run already.
func OnInterrupt(f func()) {
	interrupt.mu.Lock()
	interrupt.cleanups = append(interrupt.cleanups, f)
	interrupt.mu.Unlock()
	interrupt.once.Do(func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		go func() {
			<-sig
			interrupt.mu.Lock()
			fs := interrupt.cleanups
			interrupt.mu.Unlock()
			for i := len(fs) - 1; i >= 0; i-- {
				fs[i]()
			}
			os.Exit(130)
		}()
	})
}

// Client is a clientset for kubeconfig allowed qps requests per second
// (and as many in a burst), sending protobuf unless json is asked for,
// with the config it was made from.
func Client(kubeconfig string, qps float32, protobuf bool) (*rest.Config, kubernetes.Interface, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	rc.QPS, rc.Burst = qps, int(qps)
	if protobuf {
		rc.ContentType = "application/vnd.kubernetes.protobuf"
	}
	cs, err := kubernetes.NewForConfig(rc)
	return rc, cs, err
}

// Save records res under key in dir/<name>.json, keeping the other keys
// of an earlier run there, and prints where it went.
func Save(dir, name, key string, res any) error {
	report := NewReport(name)
	report.MergeEarlier(filepath.Join(dir, name+".json"))
	report.Results[key] = res
	path, err := report.Write(dir)
	if err != nil {
		return err
	}
	fmt.Println("results:", path)
	return nil
}

// EnvInt is the positive integer in environment variable k, or def when
// it is unset; anything else ends the program with a message.
func EnvInt(k, def string) int {
	n, err := strconv.Atoi(EnvOr(k, def))
	if err != nil || n <= 0 {
		fmt.Fprintf(os.Stderr, "bench: %s must be a positive integer\n", k)
		os.Exit(2)
	}
	return n
}

// ScaleClusterCIDR is a pod range with a /24 for each of up to 16,384
// nodes, for the runs with thousands of (hollow) nodes: the default /16
// has room for 256, and the node IPAM controller would warn about, and
// record an Event for, every node past that.
const ScaleClusterCIDR = "10.64.0.0/10"

// HTTPGet fetches url over plain HTTP and returns the body; a status
// other than 200 is an error.
func HTTPGet(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s: %s", url, resp.Status, data)
	}
	return data, err
}

// ServerProfile fetches a Go profile from the API server's /debug/pprof/
// (path with at most one query parameter, e.g. "/debug/pprof/heap?gc=1").
func ServerProfile(ctx context.Context, cs kubernetes.Interface, path string) ([]byte, error) {
	u, q, _ := strings.Cut(path, "?")
	r := cs.CoreV1().RESTClient().Get().AbsPath(u).Timeout(5 * time.Minute)
	if k, v, ok := strings.Cut(q, "="); ok {
		r = r.Param(k, v)
	}
	return r.DoRaw(ctx)
}

// SaveProfile writes a fetched profile to dir/name.pprof and returns the
// file, or prints why it could not (fetching or writing) and returns "".
func SaveProfile(dir, name string, data []byte, err error) string {
	f := filepath.Join(dir, name+".pprof")
	if err == nil {
		err = os.WriteFile(f, data, 0o644)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "  profile %s: %v\n", name, err)
		return ""
	}
	return f
}

// KubectlPodLists times `kubectl get pods -A` as a user runs it (chunks of
// 500), with --chunk-size=0, and a raw resourceVersion=0 list, runs times
// each, and checks that the tables have a row per pod. Keys are
// kubectl_get_pods_A_chunked, kubectl_get_pods_A_chunk0 and
// kubectl_raw_list_rv0 (wall time), each with a _cpu twin (the CPU time
// kubectl itself used, user and system), and
// kubectl_throttle_floor_chunked_ms; empty when kubectl is not installed.
//
// The floor is the least time kubectl's own client-side rate limiter lets
// the chunked run take, whatever the server: kubectl's REST client allows
// 5 requests a second after a burst of 10 (client-go's defaults, which
// kubectl does not change or expose), and a list of N pods in chunks of
// 500 is ceil(N/500) requests.
func KubectlPodLists(kubeconfig string, pods, runs int) map[string]any {
	out := map[string]any{}
	if _, err := exec.LookPath("kubectl"); err != nil {
		fmt.Println("  kubectl not on PATH: kubectl timings skipped")
		return out
	}
	const chunk, qps, burst = 500, 5, 10
	pages := (pods + chunk - 1) / chunk
	out["kubectl_throttle_floor_chunked_ms"] = float64(max(0, pages-burst)) / qps * 1000
	for _, c := range []struct {
		key  string
		args []string
		rows bool
	}{
		{"kubectl_get_pods_A_chunked", []string{"get", "pods", "-A", "--no-headers"}, true},
		{"kubectl_get_pods_A_chunk0", []string{"get", "pods", "-A", "--no-headers", "--chunk-size=0"}, true},
		{"kubectl_raw_list_rv0", []string{"get", "--raw", "/api/v1/pods?resourceVersion=0"}, false},
	} {
		var samples, cpu []time.Duration
		for range runs {
			cmd := exec.Command("kubectl", append([]string{"--kubeconfig", kubeconfig}, c.args...)...)
			t0 := time.Now()
			b, err := cmd.Output()
			if err != nil {
				fmt.Fprintf(os.Stderr, "  kubectl %v: %v\n", c.args, err)
				break
			}
			samples = append(samples, time.Since(t0))
			cpu = append(cpu, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
			if n := bytes.Count(b, []byte{'\n'}); c.rows && n != pods {
				fmt.Fprintf(os.Stderr, "  kubectl %v printed %d rows, want %d\n", c.args, n, pods)
			}
		}
		if len(samples) > 0 {
			out[c.key] = Summarize(samples, 0)
			out[c.key+"_cpu"] = Summarize(cpu, 0)
		}
	}
	return out
}
