package server

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// streamOptions are the query parameters of exec and attach. Both the
// kubelet's names (input, output, error) and PodExecOptions' (stdin,
// stdout, stderr) are understood, with values "1" or "true".
type streamOptions struct {
	command                    []string
	stdin, stdout, stderr, tty bool
}

func parseStreamOptions(q url.Values, needCommand bool) (streamOptions, error) {
	flag := func(names ...string) (bool, error) {
		for _, n := range names {
			if v := q.Get(n); v != "" {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return false, errorf(http.StatusBadRequest, "invalid %s %q: must be true or false", n, v)
				}
				return b, nil
			}
		}
		return false, nil
	}
	var o streamOptions
	var err error
	if o.stdin, err = flag("input", "stdin"); err != nil {
		return o, err
	}
	if o.stdout, err = flag("output", "stdout"); err != nil {
		return o, err
	}
	if o.stderr, err = flag("error", "stderr"); err != nil {
		return o, err
	}
	if o.tty, err = flag("tty"); err != nil {
		return o, err
	}
	if o.tty {
		// A terminal merges stderr into stdout; runtimes reject both.
		o.stderr = false
	}
	if !o.stdin && !o.stdout && !o.stderr {
		return o, errorf(http.StatusBadRequest, "you must specify at least 1 of stdin, stdout, stderr")
	}
	o.command = q["command"]
	if needCommand && len(o.command) == 0 {
		return o, errorf(http.StatusBadRequest, "you must specify at least one command for the container")
	}
	return o, nil
}

// serveExec asks the runtime to prepare an exec and proxies the client's
// stream (an SPDY or WebSocket upgrade) to the runtime's streaming server.
func (s *Server) serveExec(w http.ResponseWriter, r *http.Request) {
	o, err := parseStreamOptions(r.URL.Query(), true)
	if err != nil {
		s.writeError(w, err)
		return
	}
	pc, err := s.resolveContainer(r, false)
	if err != nil {
		s.writeError(w, err)
		return
	}
	resp, err := s.cfg.Runtime.Exec(r.Context(), &runtimeapi.ExecRequest{ContainerId: pc.container.ID, Cmd: o.command,
		Tty: o.tty, Stdin: o.stdin, Stdout: o.stdout, Stderr: o.stderr})
	if err != nil {
		s.writeError(w, runtimeError(fmt.Sprintf("exec in container %q of pod %q", pc.name, pc.pod.Name), err))
		return
	}
	s.proxyStream(w, r, resp.GetUrl())
}

// serveAttach attaches to a running container's main process.
func (s *Server) serveAttach(w http.ResponseWriter, r *http.Request) {
	o, err := parseStreamOptions(r.URL.Query(), false)
	if err != nil {
		s.writeError(w, err)
		return
	}
	pc, err := s.resolveContainer(r, false)
	if err != nil {
		s.writeError(w, err)
		return
	}
	resp, err := s.cfg.Runtime.Attach(r.Context(), &runtimeapi.AttachRequest{ContainerId: pc.container.ID,
		Tty: o.tty, Stdin: o.stdin, Stdout: o.stdout, Stderr: o.stderr})
	if err != nil {
		s.writeError(w, runtimeError(fmt.Sprintf("attach to container %q of pod %q", pc.name, pc.pod.Name), err))
		return
	}
	s.proxyStream(w, r, resp.GetUrl())
}

// servePortForward forwards to the pod's sandbox; the ports travel in
// the stream headers, or as "port" query parameters.
func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request) {
	pod, err := s.resolvePod(r)
	if err != nil {
		s.writeError(w, err)
		return
	}
	var ports []int32
	for _, v := range r.URL.Query()["port"] {
		p, err := strconv.ParseUint(v, 10, 16)
		if err != nil || p == 0 {
			s.writeError(w, errorf(http.StatusBadRequest, "invalid port %q: must be 1-65535", v))
			return
		}
		ports = append(ports, int32(p))
	}
	sandbox, ok := s.cfg.Containers.Sandbox(pod.UID)
	if !ok {
		s.writeError(w, errorf(http.StatusBadRequest, "pod %q has no running sandbox", pod.Name))
		return
	}
	resp, err := s.cfg.Runtime.PortForward(r.Context(), &runtimeapi.PortForwardRequest{PodSandboxId: sandbox, Port: ports})
	if err != nil {
		s.writeError(w, runtimeError(fmt.Sprintf("port-forward to pod %q", pod.Name), err))
		return
	}
	s.proxyStream(w, r, resp.GetUrl())
}

// serveRun runs a command to completion and answers with its output
// (stdout, then stderr). The command is "cmd" split on spaces, or the
// repeated "command" parameters.
func (s *Server) serveRun(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeError(w, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	cmd := r.Form["command"]
	if len(cmd) == 0 {
		cmd = strings.Fields(r.Form.Get("cmd"))
	}
	if len(cmd) == 0 {
		s.writeError(w, errorf(http.StatusBadRequest, "you must specify a command (cmd)"))
		return
	}
	pc, err := s.resolveContainer(r, false)
	if err != nil {
		s.writeError(w, err)
		return
	}
	stdout, stderr, err := s.cfg.Runtime.ExecSync(r.Context(), pc.container.ID, cmd, 0)
	if err != nil {
		s.writeError(w, runtimeError(fmt.Sprintf("run in container %q of pod %q", pc.name, pc.pod.Name), err))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(stdout)
	_, _ = w.Write(stderr)
}

// runtimeError maps a CRI error to the client's status code.
func runtimeError(what string, err error) error {
	code := http.StatusInternalServerError
	switch status.Code(err) {
	case codes.NotFound:
		code = http.StatusNotFound
	case codes.InvalidArgument, codes.FailedPrecondition:
		code = http.StatusBadRequest
	}
	msg := err.Error()
	if st, ok := status.FromError(err); ok {
		msg = st.Message()
	}
	return errorf(code, "%s: %s", what, msg)
}

// proxyStream hands the client's request, upgrade headers and all, to
// the runtime's streaming server at rawURL, and copies both ways until
// either side closes.
func (s *Server) proxyStream(w http.ResponseWriter, r *http.Request, rawURL string) {
	target, err := url.Parse(rawURL)
	if err != nil || !target.IsAbs() || target.Host == "" {
		s.writeError(w, errorf(http.StatusInternalServerError, "runtime returned an unusable streaming URL %q", rawURL))
		return
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			u := *target
			pr.Out.URL = &u
			pr.Out.Host = target.Host
			pr.Out.Header.Del("Authorization")
		},
		Transport:     s.cfg.StreamTransport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.log.Debug("kubelet server: streaming proxy", "url", target.Redacted(), "err", err)
			http.Error(w, fmt.Sprintf("container runtime streaming server: %v", err), http.StatusBadGateway)
		},
	}
	rp.ServeHTTP(w, r)
}
