package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/storage/etcdtest"
)

// overloadEnv is an API server with a small concurrency limit, served
// over real TLS, and the CA to mint identities for it.
type overloadEnv struct {
	url string
	ca  *auth.CA
}

func startOverloadServer(t *testing.T, cfg apiserver.Config) *overloadEnv {
	t.Helper()
	dir := t.TempDir()
	ca, err := auth.EnsureCA(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	etcd, prefix := etcdtest.Start(t)
	cfg.Etcd, cfg.KeyPrefix = etcd, prefix+"/registry"
	cfg.Authenticator, cfg.Authorizer = auth.NewX509Authenticator(ca.Pool()), auth.AlwaysAllow{}
	cfg.CompactionInterval, cfg.Logger = -1, quietLogger()
	api, err := apiserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	serving, err := auth.EnsureServingCert(filepath.Join(dir, "api"), ca, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: api.Handler(), TLSConfig: auth.ServerTLSConfig(serving, ca),
		ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(quietLogger().Handler(), slog.LevelDebug)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = hs.Serve(tls.NewListener(ln, hs.TLSConfig)) }()
	go func() { defer wg.Done(); _ = api.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		_ = hs.Close()
		wg.Wait()
	})
	for deadline := time.Now().Add(30 * time.Second); !api.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("API server not ready")
		}
	}
	return &overloadEnv{url: "https://" + ln.Addr().String(), ca: ca}
}

// config is a client config for user in groups (no client-side rate
// limit: the server is what is under test).
func (e *overloadEnv) config(t *testing.T, user string, groups ...string) *rest.Config {
	t.Helper()
	cert, key, err := auth.IssueClientCert(e.ca, user, groups, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &rest.Config{Host: e.url, QPS: -1,
		TLSClientConfig: rest.TLSClientConfig{CAData: e.ca.CertPEM, CertData: cert, KeyData: key}}
}

func (e *overloadEnv) clientset(t *testing.T, user string, groups ...string) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(e.config(t, user, groups...))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// httpClient does raw requests as user: no retries of 429.
func (e *overloadEnv) httpClient(t *testing.T, user string, groups ...string) *http.Client {
	t.Helper()
	hc, err := rest.HTTPClientFor(e.config(t, user, groups...))
	if err != nil {
		t.Fatal(err)
	}
	hc.Timeout = time.Minute
	return hc
}

// TestOverloadFloodGets429WhileHeartbeatsFlow floods a server of 8 seats
// with 400 concurrent LISTs from one user (more than the 300 one flow
// may queue: upstream's hand of 6 queues of 50), and checks that the
// flood is shed with 429 and Retry-After, while a node's Lease updates (node-high)
// and another user's requests in the flooded level keep being served.
func TestOverloadFloodGets429WhileHeartbeatsFlow(t *testing.T) {
	env := startOverloadServer(t, apiserver.Config{MaxRequestsInflight: 4, MaxMutatingRequestsInflight: 4,
		RequestQueueTimeout: 5 * time.Second})
	ctx := ctxFor(t)
	admin := env.clientset(t, auth.AdminUser, auth.GroupMasters)
	createNamespace(t, admin, "flood")
	value := strings.Repeat("x", 4<<10)
	for i := range 100 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%03d", i)}, Data: map[string]string{"v": value}}
		if _, err := admin.CoreV1().ConfigMaps("flood").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n1", Namespace: corev1.NamespaceNodeLease},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptrTo("n1"), LeaseDurationSeconds: ptrTo[int32](40)}}
	if _, err := admin.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The node heartbeats with client-go (which would retry a 429 after
	// a second: the latency bound would catch it). Its latency without a
	// flood is the baseline: a loaded test machine is slow for everyone.
	node := env.clientset(t, "system:node:n1", auth.GroupNodes)
	renew := func() (time.Duration, error) {
		start := time.Now()
		l, err := node.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "n1", metav1.GetOptions{})
		if err == nil {
			l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
			_, err = node.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(ctx, l, metav1.UpdateOptions{})
		}
		return time.Since(start), err
	}
	var baseline []time.Duration
	for range 20 {
		d, err := renew()
		if err != nil {
			t.Fatal(err)
		}
		baseline = append(baseline, d)
		time.Sleep(20 * time.Millisecond)
	}

	const floodFor = 5 * time.Second
	stop := time.Now().Add(floodFor)
	flooder := env.httpClient(t, "flooder")
	var ok200, got429, badRetryAfter, other atomic.Int64
	var otherErr atomic.Value
	var flood sync.WaitGroup
	const flooders = 400 // one flow queues 300 at most
	for range flooders {
		flood.Add(1)
		go func() {
			defer flood.Done()
			for time.Now().Before(stop) {
				resp, err := flooder.Get(env.url + "/api/v1/namespaces/flood/configmaps")
				if err != nil {
					other.Add(1)
					otherErr.Store(err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					ok200.Add(1)
				case http.StatusTooManyRequests:
					got429.Add(1)
					var st metav1.Status
					if resp.Header.Get("Retry-After") != "1" || json.Unmarshal(body, &st) != nil ||
						st.Reason != metav1.StatusReasonTooManyRequests || st.Details == nil || st.Details.RetryAfterSeconds != 1 {
						badRetryAfter.Add(1)
					}
					time.Sleep(20 * time.Millisecond) // a rude client: ignores Retry-After
				default:
					other.Add(1)
					otherErr.Store(fmt.Sprintf("HTTP %d: %.200s", resp.StatusCode, body))
				}
			}
		}()
	}

	// Another user in the flooded level: fair queuing serves her between
	// the flooder's requests.
	bob := env.httpClient(t, "bob")
	var leaseLat, bobLat, adminLat []time.Duration
	var bobStatus []int
	var side sync.WaitGroup
	side.Add(3)
	// The control: an exempt request (never queued) measures how slow the
	// machine itself is during the flood.
	go func() {
		defer side.Done()
		time.Sleep(500 * time.Millisecond)
		for time.Now().Before(stop) {
			start := time.Now()
			if _, err := admin.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "n1", metav1.GetOptions{}); err != nil {
				t.Errorf("admin: %v", err)
				return
			}
			adminLat = append(adminLat, time.Since(start))
			time.Sleep(50 * time.Millisecond)
		}
	}()
	go func() {
		defer side.Done()
		time.Sleep(500 * time.Millisecond) // let the flood build up
		for time.Now().Before(stop) {
			d, err := renew()
			if err != nil {
				t.Errorf("lease update under flood: %v", err)
				return
			}
			leaseLat = append(leaseLat, d)
			time.Sleep(50 * time.Millisecond)
		}
	}()
	go func() {
		defer side.Done()
		time.Sleep(500 * time.Millisecond)
		for time.Now().Before(stop) {
			start := time.Now()
			resp, err := bob.Get(env.url + "/api/v1/namespaces/flood/configmaps/cm-000")
			if err != nil {
				t.Errorf("bob: %v", err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			bobLat = append(bobLat, time.Since(start))
			bobStatus = append(bobStatus, resp.StatusCode)
			time.Sleep(50 * time.Millisecond)
		}
	}()

	finished := make(chan struct{})
	go func() { flood.Wait(); side.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(floodFor + 60*time.Second):
		t.Fatal("clients still running a minute after the flood ended: the server hangs")
	}

	t.Logf("flood of %d concurrent LISTs (~400 KiB each) for %v at 8 seats: %d served, %d answered 429, %d other",
		flooders, floodFor, ok200.Load(), got429.Load(), other.Load())
	t.Logf("node lease get+update without flood: %d, p50 %v p99 %v", len(baseline), pct(baseline, 50), pct(baseline, 99))
	t.Logf("node lease get+update under flood: %d, p50 %v p99 %v max %v", len(leaseLat), pct(leaseLat, 50), pct(leaseLat, 99), pct(leaseLat, 100))
	t.Logf("exempt admin GETs under flood (control): %d, p50 %v p99 %v", len(adminLat), pct(adminLat, 50), pct(adminLat, 99))
	t.Logf("bob's GETs in the flooded level: %d, p50 %v p99 %v max %v, codes %v", len(bobLat), pct(bobLat, 50), pct(bobLat, 99), pct(bobLat, 100), countCodes(bobStatus))
	if got429.Load() == 0 {
		t.Errorf("no flood request was answered 429")
	}
	if n := badRetryAfter.Load(); n > 0 {
		t.Errorf("%d 429s lacked Retry-After: 1 or a TooManyRequests Status", n)
	}
	if n := other.Load(); n > 0 {
		t.Errorf("%d flood requests failed otherwise, e.g. %v", n, otherErr.Load())
	}
	if len(leaseLat) < 10 {
		t.Errorf("only %d lease updates during the flood", len(leaseLat))
	}
	// Under 1s; on a machine so loaded that even unqueued requests are
	// slow, within a few times theirs.
	if p, bound := pct(leaseLat, 99), max(time.Second, 4*pct(baseline, 99), 3*pct(adminLat, 99)); p > bound {
		t.Errorf("lease update p99 %v under flood, want < %v (baseline p99 %v, exempt p99 %v)", p, bound, pct(baseline, 99), pct(adminLat, 99))
	}
	if n := countCodes(bobStatus)[http.StatusOK]; n == 0 {
		t.Errorf("bob was starved: codes %v", countCodes(bobStatus))
	}

	// The rejections are in the metrics, by level and flow schema.
	metrics := env.httpClient(t, auth.AdminUser, auth.GroupMasters)
	resp, err := metrics.Get(env.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `apiserver_flowcontrol_rejected_requests_total{flow_schema="global-default",priority_level="global-default",reason="queue-full"}`
	if !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %s", want)
	}
	// Exactly: the heartbeats never waited for a seat, and none was
	// rejected.
	for _, line := range strings.Split(string(body), "\n") {
		switch {
		case strings.HasPrefix(line, "apiserver_flowcontrol_rejected_requests_total") && strings.Contains(line, `priority_level="node-high"`):
			t.Errorf("node-high requests were rejected: %s", line)
		case strings.HasPrefix(line, "apiserver_flowcontrol_request_wait_duration_seconds_sum") && strings.Contains(line, `priority_level="node-high"`):
			if !strings.HasSuffix(line, " 0") {
				t.Errorf("node-high requests waited for seats: %s", line)
			}
			t.Logf("%s", line)
		}
	}
}

// TestOverloadSlowWatcherIsCutOff opens watches over raw HTTP/1.1 with a
// tiny receive buffer, stops reading, and produces events of 64 KiB: the
// server must end the watch instead of buffering them. Two bounds do it:
// the storage watch cuts a watcher whose buffer (its channels: 200
// events) stays full, and the API server cuts a watch whose write has
// blocked for WatchWriteTimeout (here with fewer events than that
// buffer, so only the write timeout can end it).
func TestOverloadSlowWatcherIsCutOff(t *testing.T) {
	const writeTimeout = 2 * time.Second
	env := startOverloadServer(t, apiserver.Config{WatchWriteTimeout: writeTimeout})
	admin := env.clientset(t, auth.AdminUser, auth.GroupMasters)
	createNamespace(t, admin, "slow")
	for _, tc := range []struct {
		name    string
		updates int
		// cutMidStream: the connection is broken (write timeout), not
		// the response ended (the storage watch dropping the watcher).
		cutMidStream bool
	}{
		{name: "storage buffer", updates: 320},
		{name: "write timeout", updates: 160, cutMidStream: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testSlowWatcher(t, env, admin, tc.name, tc.updates, tc.cutMidStream, writeTimeout)
		})
	}
}

func testSlowWatcher(t *testing.T, env *overloadEnv, admin kubernetes.Interface, name string, updates int, cutMidStream bool, writeTimeout time.Duration) {
	ctx := ctxFor(t)
	name = strings.ReplaceAll(name, " ", "-")
	cm, err := admin.CoreV1().ConfigMaps("slow").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// The slow client: a watch as an unprivileged user over a connection
	// whose receive buffer is 4 KiB, then no more reads.
	cert, key, err := auth.IssueClientCert(env.ca, "slowpoke", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	dialer := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	host := strings.TrimPrefix(env.url, "https://")
	conn, err := tls.DialWithDialer(dialer, "tcp", host, &tls.Config{RootCAs: env.ca.Pool(), Certificates: []tls.Certificate{pair},
		ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req, err := http.NewRequest("GET", env.url+"/api/v1/namespaces/slow/configmaps?watch=true&fieldSelector=metadata.name%3D"+name+
		"&resourceVersion="+cm.ResourceVersion, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(conn, 1024)
	resp, err := http.ReadResponse(br, req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("watch: %v %v", resp, err)
	}

	value := strings.Repeat("y", 64<<10)
	start := time.Now()
	for i := range updates {
		cm.Data = map[string]string{"v": value, "i": fmt.Sprint(i)}
		if cm, err = admin.CoreV1().ConfigMaps("slow").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	produced := int64(updates) * int64(len(value))
	t.Logf("wrote %d updates (%d MiB of events) in %v", updates, produced>>20, time.Since(start).Round(time.Millisecond))

	// Give a blocked write time to hit the write timeout; then read what
	// was buffered, and the end, well before a reader of an open watch
	// would give up.
	time.Sleep(writeTimeout + time.Second)
	_ = conn.SetReadDeadline(time.Now().Add(writeTimeout + 20*time.Second))
	n, err := io.Copy(io.Discard, resp.Body)
	ended := time.Since(start)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("watch still open %v after the first update (read %d KiB): a slow watcher is not cut off", ended, n>>10)
	}
	t.Logf("slow watcher ended (err %v) %v after the first update; it received %d KiB of %d MiB produced",
		err, ended.Round(time.Millisecond), n>>10, produced>>20)
	if n >= produced*9/10 {
		t.Fatalf("the slow watcher got %d of %d bytes: the server buffered instead of cutting it off", n, produced)
	}
	if cutMidStream && err == nil {
		t.Fatalf("the watch ended cleanly; want the connection cut by the write timeout")
	}

	// The client resumes from the last revision it has, as after any
	// dropped watch.
	w, err := admin.CoreV1().ConfigMaps("slow").Watch(ctx, metav1.ListOptions{ResourceVersion: cm.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	w.Stop()
}

func ptrTo[T any](v T) *T { return &v }

// pct is the p-th percentile of ds (100: the maximum).
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

func countCodes(codes []int) map[int]int {
	m := map[int]int{}
	for _, c := range codes {
		m[c]++
	}
	return m
}
