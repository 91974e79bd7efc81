package cri

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// stubRuntime answers the few calls these tests make; everything else is
// Unimplemented, as an older runtime answers newer calls.
type stubRuntime struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	apiVersion string
	containers int
}

func (s *stubRuntime) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{RuntimeName: "stub", RuntimeVersion: "1.0", RuntimeApiVersion: s.apiVersion}, nil
}

func (s *stubRuntime) ExecSync(_ context.Context, req *runtimeapi.ExecSyncRequest) (*runtimeapi.ExecSyncResponse, error) {
	if req.ContainerId == "missing" {
		return nil, status.Error(codes.NotFound, "container not found")
	}
	return &runtimeapi.ExecSyncResponse{Stdout: []byte("out"), Stderr: []byte("err"), ExitCode: 3}, nil
}

func (s *stubRuntime) ListContainers(context.Context, *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	resp := &runtimeapi.ListContainersResponse{}
	for i := 0; i < s.containers; i++ {
		resp.Containers = append(resp.Containers, &runtimeapi.Container{Id: strings.Repeat("c", 64), Labels: map[string]string{"pad": strings.Repeat("x", 1000)}})
	}
	return resp, nil
}

// serve runs srv's services on a unix socket and returns its endpoint.
func serve(t *testing.T, register func(*grpc.Server)) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "skiff-cri-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "cri.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.MaxSendMsgSize(MaxMessageSize))
	register(srv)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return "unix://" + sock
}

func dialStub(t *testing.T, stub *stubRuntime) *Remote {
	t.Helper()
	endpoint := serve(t, func(s *grpc.Server) { runtimeapi.RegisterRuntimeServiceServer(s, stub) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := Dial(ctx, endpoint, WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func TestParseEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"unix:///run/c.sock": "unix:///run/c.sock",
		"/run/c.sock":        "unix:///run/c.sock",
	} {
		if got, err := parseEndpoint(in); err != nil || got != want {
			t.Errorf("parseEndpoint(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "tcp://127.0.0.1:1234", "unix://relative.sock", "relative.sock"} {
		if _, err := parseEndpoint(bad); err == nil {
			t.Errorf("parseEndpoint(%q) accepted", bad)
		}
	}
}

func TestDialNoRuntime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := Dial(ctx, filepath.Join(t.TempDir(), "none.sock"))
	if err == nil || !strings.Contains(err.Error(), "is it running") {
		t.Fatalf("Dial of a missing socket: %v", err)
	}
}

func TestDialChecksAPIVersion(t *testing.T) {
	endpoint := serve(t, func(s *grpc.Server) {
		runtimeapi.RegisterRuntimeServiceServer(s, &stubRuntime{apiVersion: "v1alpha2"})
	})
	_, err := Dial(context.Background(), endpoint)
	if err == nil || !strings.Contains(err.Error(), `speaks API "v1alpha2"`) {
		t.Fatalf("Dial of a v1alpha2 runtime: %v", err)
	}

	empty := serve(t, func(*grpc.Server) {})
	_, err = Dial(context.Background(), empty)
	if !IsUnimplemented(err) || !strings.Contains(err.Error(), "does not serve CRI runtime API v1") {
		t.Fatalf("Dial of a server without the CRI: %v", err)
	}
}

func TestExecSyncExitCode(t *testing.T) {
	r := dialStub(t, &stubRuntime{apiVersion: APIVersion})
	stdout, stderr, err := r.ExecSync(context.Background(), "c1", []string{"false"}, time.Second)
	var exit *ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() != 3 || string(stdout) != "out" || string(stderr) != "err" {
		t.Fatalf("ExecSync = %q, %q, %v; want output and exit status 3", stdout, stderr, err)
	}
}

func TestErrorsKeepStatus(t *testing.T) {
	r := dialStub(t, &stubRuntime{apiVersion: APIVersion})
	ctx := context.Background()

	_, _, err := r.ExecSync(ctx, "missing", []string{"true"}, 0)
	if !IsNotFound(err) || !strings.Contains(err.Error(), "cri ExecSync missing") {
		t.Errorf("ExecSync of a missing container: %v; want NotFound naming the call and container", err)
	}
	_, err = r.UpdatePodSandboxResources(ctx, &runtimeapi.UpdatePodSandboxResourcesRequest{PodSandboxId: "s1"})
	if !IsUnimplemented(err) || status.Code(err) != codes.Unimplemented {
		t.Errorf("unimplemented call: %v", err)
	}
	err = r.GetContainerEvents(ctx, make(chan *runtimeapi.ContainerEventResponse), nil)
	if !IsUnimplemented(err) {
		t.Errorf("GetContainerEvents on a runtime without events: %v", err)
	}
	// The image service is not registered at all on this stub.
	if _, err := r.ListImages(ctx, nil); !IsUnimplemented(err) {
		t.Errorf("ListImages without an image service: %v", err)
	}
}

func TestLargeMessages(t *testing.T) {
	// About 6 MiB: over gRPC's 4 MiB default, within the CRI's 16 MiB.
	r := dialStub(t, &stubRuntime{apiVersion: APIVersion, containers: 6000})
	got, err := r.ListContainers(context.Background(), nil)
	if err != nil || len(got) != 6000 {
		t.Fatalf("ListContainers of 6 MiB: %d, %v", len(got), err)
	}
}

func TestUnavailableHint(t *testing.T) {
	stub := &stubRuntime{apiVersion: APIVersion}
	dir, err := os.MkdirTemp("", "skiff-cri-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "cri.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(srv, stub)
	go func() { _ = srv.Serve(ln) }()
	r, err := Dial(context.Background(), sock, WithTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	srv.Stop()
	_, err = r.Status(context.Background(), false)
	if status.Code(err) != codes.Unavailable && status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("Status after the runtime went away: %v", err)
	}
	if status.Code(err) == codes.Unavailable && !strings.Contains(err.Error(), "unavailable") {
		t.Errorf("no hint in %v", err)
	}
}
