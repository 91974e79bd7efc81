package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/skiff-sh/skiff/internal/auth"
)

func testLevel(limit, queueLength, queues int, timeout time.Duration) *level {
	return newLevel(levelConfig{name: "test", shares: 1, queueLength: queueLength, queues: queues}, limit, timeout)
}

// mustAcquire takes a seat that is free now.
func mustAcquire(t *testing.T, l *level, flow string) func() {
	t.Helper()
	release, waited, err := l.acquire(context.Background(), flow, nil)
	if err != nil || waited != 0 {
		t.Fatalf("acquire %s: waited %v, err %v; want a free seat", flow, waited, err)
	}
	return release
}

// queuedRequest is a request waiting in a level; admitted gets its flow
// when it is given a seat.
type queuedRequest struct {
	flow    string
	release func()
	err     error
}

// enqueue starts an acquire and returns once it waits in the queue, so
// tests control the arrival order.
func enqueue(t *testing.T, l *level, flow string, admitted chan<- *queuedRequest) {
	t.Helper()
	_, before := l.stats()
	go func() {
		q := &queuedRequest{flow: flow}
		q.release, _, q.err = l.acquire(context.Background(), flow, nil)
		admitted <- q
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, waiting := l.stats(); waiting > before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never queued", flow)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLevelFloodingFlowDoesNotStarveAnother(t *testing.T) {
	l := testLevel(1, 100, 10, time.Minute)
	hold := mustAcquire(t, l, "flood")
	admitted := make(chan *queuedRequest, 32)
	for range 20 {
		enqueue(t, l, "flood", admitted)
	}
	enqueue(t, l, "victim", admitted)

	// Seats free one at a time; the victim, last to arrive behind 20
	// flood requests, is served second: round-robin between flows.
	hold()
	var order []string
	for range 21 {
		q := <-admitted
		if q.err != nil {
			t.Fatalf("%s: %v", q.flow, q.err)
		}
		order = append(order, q.flow)
		q.release()
	}
	if order[0] != "flood" || order[1] != "victim" {
		t.Fatalf("admission order starts %v, want [flood victim ...]", order[:3])
	}
}

func TestLevelQueueFull(t *testing.T) {
	l := testLevel(1, 2, 2, time.Minute)
	hold := mustAcquire(t, l, "a")
	defer hold()
	admitted := make(chan *queuedRequest, 8)
	enqueue(t, l, "a", admitted)
	enqueue(t, l, "a", admitted)
	// The flow's queue is full; another flow still has room.
	_, _, err := l.acquire(context.Background(), "a", nil)
	var rj *rejection
	if !errors.As(err, &rj) || rj.reason != rejectQueueFull {
		t.Fatalf("third request of a full flow: %v, want %s", err, rejectQueueFull)
	}
	enqueue(t, l, "b", admitted)
	enqueue(t, l, "b", admitted)
	// Now the level is full (queues*queueLength), and no new flow fits.
	if _, _, err := l.acquire(context.Background(), "c", nil); !errors.As(err, &rj) || rj.reason != rejectQueueFull {
		t.Fatalf("request to a full level: %v, want %s", err, rejectQueueFull)
	}
}

// TestLevelHandSize: a flow may wait in handSize queues' worth, as a flow
// alone at its level upstream fills the shortest queue of its hand.
func TestLevelHandSize(t *testing.T) {
	l := newLevel(levelConfig{name: "test", shares: 1, queueLength: 2, handSize: 3, queues: 4}, 1, time.Minute)
	hold := mustAcquire(t, l, "a")
	defer hold()
	admitted := make(chan *queuedRequest, 8)
	for range 6 {
		enqueue(t, l, "a", admitted)
	}
	var rj *rejection
	if _, _, err := l.acquire(context.Background(), "a", nil); !errors.As(err, &rj) || rj.reason != rejectQueueFull {
		t.Fatalf("seventh waiting request of a flow with a hand of 3 queues of 2: %v, want %s", err, rejectQueueFull)
	}
	enqueue(t, l, "b", admitted)
	enqueue(t, l, "b", admitted)
	// The level holds queues*queueLength = 8 waiting: now it is full.
	if _, _, err := l.acquire(context.Background(), "c", nil); !errors.As(err, &rj) || rj.reason != rejectQueueFull {
		t.Fatalf("request to a full level: %v, want %s", err, rejectQueueFull)
	}
}

func TestLevelQueueTimeoutAndCancel(t *testing.T) {
	l := testLevel(1, 10, 10, 50*time.Millisecond)
	hold := mustAcquire(t, l, "a")
	defer hold()
	start := time.Now()
	_, waited, err := l.acquire(context.Background(), "b", nil)
	var rj *rejection
	if !errors.As(err, &rj) || rj.reason != rejectTimeout {
		t.Fatalf("err = %v, want %s", err, rejectTimeout)
	}
	if waited < 50*time.Millisecond || time.Since(start) > 2*time.Second {
		t.Fatalf("waited %v", waited)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	l.timeout = time.Minute
	if _, _, err := l.acquire(ctx, "b", nil); !errors.As(err, &rj) || rj.reason != rejectCancelled {
		t.Fatalf("err = %v, want %s", err, rejectCancelled)
	}
	if exec, waiting := l.stats(); exec != 1 || waiting != 0 {
		t.Fatalf("executing %d waiting %d after the waits ended, want 1 0", exec, waiting)
	}
}

func TestLevelRejectType(t *testing.T) {
	l := newLevel(levelConfig{name: "catch-all", shares: 5, reject: true}, 1, time.Minute)
	hold := mustAcquire(t, l, "a")
	var rj *rejection
	if _, _, err := l.acquire(context.Background(), "a", nil); !errors.As(err, &rj) || rj.reason != rejectConcurrencyLimit {
		t.Fatalf("err = %v, want %s", err, rejectConcurrencyLimit)
	}
	hold()
	hold() // releasing twice gives back one seat
	mustAcquire(t, l, "a")
	if exec, _ := l.stats(); exec != 1 {
		t.Fatalf("executing = %d, want 1", exec)
	}
}

func TestNominalLimits(t *testing.T) {
	got := nominalLimits(600, builtinLevels)
	// ceil(600 * shares / 245), as upstream computes NominalCL.
	want := map[string]int{"system": 74, "node-high": 98, "leader-election": 25, "workload-high": 98,
		"workload-low": 245, "global-default": 49, "catch-all": 13}
	for name, n := range want {
		if got[name] != n {
			t.Errorf("%s: %d seats, want %d", name, got[name], n)
		}
	}
	if _, ok := got["exempt"]; ok {
		t.Errorf("exempt has a limit")
	}
	small := nominalLimits(8, builtinLevels)
	if small["global-default"] != 1 || small["node-high"] != 2 || small["catch-all"] != 1 {
		t.Errorf("limits for 8 seats: %v", small)
	}
}

func TestClassify(t *testing.T) {
	node := &auth.User{Name: "system:node:n1", Groups: []string{auth.GroupNodes, auth.GroupAuthenticated}}
	kcm := &auth.User{Name: userControllerManager, Groups: []string{auth.GroupAuthenticated}}
	sched := &auth.User{Name: userScheduler, Groups: []string{auth.GroupAuthenticated}}
	ksa := &auth.User{Name: "system:serviceaccount:kube-system:x", Groups: []string{groupServiceAccounts, groupKubeSystemServiceAccounts, auth.GroupAuthenticated}}
	sa := &auth.User{Name: "system:serviceaccount:default:x", Groups: []string{groupServiceAccounts, "system:serviceaccounts:default", auth.GroupAuthenticated}}
	alice := &auth.User{Name: "alice", Groups: []string{auth.GroupAuthenticated}}
	admin := &auth.User{Name: auth.AdminUser, Groups: []string{auth.GroupMasters, auth.GroupAuthenticated}}
	odd := &auth.User{Name: "odd"}
	for _, tc := range []struct {
		user               *auth.User
		method, path       string
		schema, levelName  string
		wantFlowIncludeUsr bool
		flowNamespace      string // "-": not per namespace
	}{
		{admin, "GET", "/api/v1/pods", "exempt", "exempt", false, "-"},
		{alice, "GET", "/healthz", "probes", "exempt", false, "-"},
		{nil, "GET", "/readyz/etcd", "probes", "exempt", false, "-"},
		{alice, "GET", "/metrics", "probes", "exempt", false, "-"},
		{kcm, "PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager", "system-leader-election", "leader-election", true, "-"},
		{sched, "GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler", "system-leader-election", "leader-election", true, "-"},
		{ksa, "PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/x", "workload-leader-election", "leader-election", true, "-"},
		{node, "PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1", "system-node-high", "node-high", true, "-"},
		{node, "PATCH", "/api/v1/nodes/n1/status", "system-node-high", "node-high", true, "-"},
		{node, "GET", "/api/v1/nodes/n1", "system-node-high", "node-high", true, "-"},
		{node, "GET", "/api/v1/pods", "system-nodes", "system", true, "-"},
		{kcm, "GET", "/api/v1/pods", "kube-controller-manager", "workload-high", false, ""},
		{kcm, "DELETE", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/x", "kube-controller-manager", "workload-high", false, "kube-system"},
		{sched, "POST", "/api/v1/namespaces/a/pods/p/binding", "kube-scheduler", "workload-high", false, "a"},
		{ksa, "GET", "/api/v1/namespaces/b/pods", "kube-system-service-accounts", "workload-high", false, "b"},
		{sa, "GET", "/api/v1/pods", "service-accounts", "workload-low", true, "-"},
		{alice, "GET", "/api/v1/pods", "global-default", "global-default", true, "-"},
		{nil, "GET", "/version", "global-default", "global-default", true, "-"},
		{odd, "GET", "/api/v1/pods", "catch-all", "catch-all", true, "-"},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		c := classify(tc.user, parseRequestInfo(r))
		if c.flowSchema != tc.schema || c.level != tc.levelName {
			t.Errorf("%v %s %s: %s/%s, want %s/%s", tc.user, tc.method, tc.path, c.flowSchema, c.level, tc.schema, tc.levelName)
		}
		name := auth.AnonymousUser
		if tc.user != nil {
			name = tc.user.Name
		}
		if tc.wantFlowIncludeUsr && c.flow != tc.schema+"/"+name {
			t.Errorf("%s %s: flow %q, want per user", tc.method, tc.path, c.flow)
		}
		if tc.flowNamespace != "-" && c.flow != tc.schema+"/"+tc.flowNamespace {
			t.Errorf("%s %s: flow %q, want per namespace (%q)", tc.method, tc.path, c.flow, tc.flowNamespace)
		}
	}
}

// testFlowControlServer is just enough Server for the filter: it writes
// Status bodies and holds the levels for totalSeats.
func testFlowControlServer(totalSeats int, queueTimeout time.Duration) *Server {
	s := &Server{scheme: newScheme(), log: slog.New(slog.NewTextHandler(io.Discard, nil)), metrics: newMetrics()}
	s.codecs = newCodecs(s.scheme)
	s.flowControl = newFlowControl(totalSeats, queueTimeout, s.metrics.registry)
	return s
}

// blockingHandler holds every request until released.
type blockingHandler struct {
	entered chan string
	gate    chan struct{}
}

func (h *blockingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u, _ := auth.UserFrom(r.Context())
	h.entered <- u.Name
	<-h.gate
	w.WriteHeader(http.StatusOK)
}

func asUser(r *http.Request, name string, groups ...string) *http.Request {
	return r.WithContext(auth.WithUser(r.Context(), &auth.User{Name: name, Groups: append(groups, auth.GroupAuthenticated)}))
}

func TestFlowControlFilterRejectsWith429(t *testing.T) {
	s := testFlowControlServer(8, time.Minute) // global-default: 1 seat, 6 queues of 50 per flow
	bh := &blockingHandler{entered: make(chan string, 400), gate: make(chan struct{})}
	h := s.withFlowControl(bh)

	var wg sync.WaitGroup
	codes := make(chan int, 400)
	for range 301 { // one runs, three hundred wait
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, asUser(httptest.NewRequest("GET", "/api/v1/pods", nil), "flooder"))
			codes <- rec.Code
		}()
	}
	<-bh.entered
	lvl := s.flowControl.levels["global-default"]
	eventuallyTrue(t, func() bool { _, waiting := lvl.stats(); return waiting == 300 })

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, asUser(httptest.NewRequest("GET", "/api/v1/pods", nil), "flooder"))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("HTTP %d Retry-After %q, want 429 and 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	var st metav1.Status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatalf("body is not a Status: %v: %s", err, rec.Body)
	}
	if st.Kind != "Status" || st.Code != 429 || st.Reason != metav1.StatusReasonTooManyRequests ||
		st.Message != tooManyRequestsMessage || st.Details == nil || st.Details.RetryAfterSeconds != 1 {
		t.Fatalf("status = %+v", st)
	}
	if got, want := rec.Header().Get(headerPriorityLevelUID), flowControlUID("prioritylevel", "global-default"); got != want {
		t.Fatalf("%s = %q, want %q", headerPriorityLevelUID, got, want)
	}
	if rec.Header().Get(headerFlowSchemaUID) == "" {
		t.Fatalf("no %s", headerFlowSchemaUID)
	}
	if n := metricValue(t, s.flowControl.metrics.rejected.WithLabelValues("global-default", "global-default", rejectQueueFull)); n != 1 {
		t.Fatalf("rejected_requests_total = %v, want 1", n)
	}
	if n := metricValue(t, s.flowControl.metrics.inqueue.WithLabelValues("global-default", "global-default")); n != 300 {
		t.Fatalf("current_inqueue_requests = %v, want 300", n)
	}

	// The same level still serves another user's request next, and a
	// node's heartbeat at node-high does not wait at all.
	nodeDone := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, asUser(httptest.NewRequest("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1", nil), "system:node:n1", auth.GroupNodes))
		nodeDone <- rec.Code
	}()
	if who := <-bh.entered; who != "system:node:n1" {
		t.Fatalf("%s entered, want the node", who)
	}
	bobDone := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, asUser(httptest.NewRequest("GET", "/api/v1/pods", nil), "bob"))
		bobDone <- rec.Code
	}()
	eventuallyTrue(t, func() bool { _, waiting := lvl.stats(); return waiting == 301 })
	// Everything runs now, one at a time in global-default: bob, who
	// came after three hundred flood requests, is served right after the first.
	close(bh.gate)
	for i := 1; ; i++ {
		if who := <-bh.entered; who == "bob" {
			if i > 2 {
				t.Fatalf("bob entered %dth after the flood; he was starved", i)
			}
			break
		}
	}
	wg.Wait()
	if c := <-nodeDone; c != http.StatusOK {
		t.Fatalf("node lease update: HTTP %d", c)
	}
	if c := <-bobDone; c != http.StatusOK {
		t.Fatalf("bob: HTTP %d", c)
	}
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Fatalf("a queued flood request got %d", c)
		}
	}
}

func TestFlowControlFilterQueueTimeout(t *testing.T) {
	s := testFlowControlServer(8, 50*time.Millisecond)
	bh := &blockingHandler{entered: make(chan string, 10), gate: make(chan struct{})}
	h := s.withFlowControl(bh)
	go h.ServeHTTP(httptest.NewRecorder(), asUser(httptest.NewRequest("GET", "/api/v1/pods", nil), "alice"))
	<-bh.entered
	defer close(bh.gate)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, asUser(httptest.NewRequest("GET", "/api/v1/pods", nil), "bob"))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("HTTP %d, want 429 with Retry-After", rec.Code)
	}
	if n := metricValue(t, s.flowControl.metrics.rejected.WithLabelValues("global-default", "global-default", rejectTimeout)); n != 1 {
		t.Fatalf("rejected time-out = %v, want 1", n)
	}
}

func TestFlowControlLongRunningRequestsHoldNoSeat(t *testing.T) {
	s := testFlowControlServer(8, 50*time.Millisecond)
	started := make(chan struct{}, 10)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// Watches write their header and then stream; exec never takes a seat.
	h := s.withFlowControl(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer wg.Done()
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		started <- struct{}{}
		<-stop
	}))
	for _, path := range []string{
		"/api/v1/pods?watch=true",
		"/api/v1/namespaces/a/pods?watch=1",
		"/api/v1/namespaces/a/pods/p/exec?command=sh",
		"/api/v1/namespaces/a/pods/p/log?follow=true",
		"/api/v1/namespaces/a/pods/p/portforward",
	} {
		wg.Add(1)
		go h.ServeHTTP(httptest.NewRecorder(), asUser(httptest.NewRequest("GET", path, nil), "alice"))
		<-started
	}
	if exec, _ := s.flowControl.levels["global-default"].stats(); exec != 0 {
		t.Fatalf("%d seats held by long-running requests, want 0", exec)
	}
	// alice's one seat is free for a LIST.
	wg.Add(1)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		h.ServeHTTP(rec, asUser(httptest.NewRequest("GET", "/api/v1/pods", nil), "alice"))
		close(done)
	}()
	<-started
	if exec, _ := s.flowControl.levels["global-default"].stats(); exec != 1 {
		t.Fatalf("LIST holds %d seats, want 1", exec)
	}
	close(stop)
	<-done
	wg.Wait()
	if exec, _ := s.flowControl.levels["global-default"].stats(); exec != 0 {
		t.Fatalf("%d seats held after all ended", exec)
	}
}

func eventuallyTrue(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// metricValue reads a counter or gauge.
func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

func TestFlowControlUID(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	a := flowControlUID("prioritylevel", "node-high")
	if !shape.MatchString(a) {
		t.Fatalf("UID %q is not shaped like a UID", a)
	}
	// Memoized, it stays what it was; other names and kinds differ.
	if again := flowControlUID("prioritylevel", "node-high"); again != a {
		t.Errorf("second UID %q, first %q", again, a)
	}
	if b := flowControlUID("flowschema", "node-high"); b == a {
		t.Errorf("a flow schema and a priority level of one name share UID %q", a)
	}
	if c := flowControlUID("prioritylevel", "system"); c == a {
		t.Errorf("two priority levels share UID %q", a)
	}
}
