package server

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// serveContainerLogs answers /containerLogs/{namespace}/{pod}/{container}
// with the query parameters of PodLogOptions: follow, previous,
// tailLines, sinceSeconds, sinceTime, timestamps, limitBytes.
func (s *Server) serveContainerLogs(w http.ResponseWriter, r *http.Request) {
	opts, previous, err := parseLogQuery(r.URL.Query(), time.Now())
	if err != nil {
		s.writeError(w, err)
		return
	}
	pc, err := s.resolveContainer(r, previous)
	if err != nil {
		s.writeError(w, err)
		return
	}
	ctx := r.Context()
	path := pc.container.LogPath
	if path == "" {
		st, err := s.cfg.Runtime.ContainerStatus(ctx, pc.container.ID, false)
		if err != nil || st.GetStatus() == nil {
			s.writeError(w, errorf(http.StatusInternalServerError, "container %q in pod %q: status: %v", pc.name, pc.pod.Name, err))
			return
		}
		path = st.GetStatus().GetLogPath()
	}
	f, err := os.Open(path)
	if err != nil {
		s.writeError(w, errorf(http.StatusInternalServerError, "container %q in pod %q: cannot read its log: %v", pc.name, pc.pod.Name, err))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	id := pc.container.ID
	lc := &logCopy{file: f, path: path, opts: opts, poll: s.cfg.LogPollInterval,
		running: func(ctx context.Context) bool { return s.containerRunning(ctx, id) }}
	if err := lc.run(ctx, w); err != nil && ctx.Err() == nil {
		s.log.Debug("kubelet server: copying container log", "pod", pc.pod.Namespace+"/"+pc.pod.Name, "container", pc.name, "err", err)
	}
}

// containerRunning asks the runtime; a container it no longer knows is
// not running.
func (s *Server) containerRunning(ctx context.Context, id string) bool {
	st, err := s.cfg.Runtime.ContainerStatus(ctx, id, false)
	if err != nil {
		return false
	}
	return st.GetStatus().GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING
}

// parseLogQuery reads PodLogOptions from a query, with the API's
// validation: non-negative tailLines, positive sinceSeconds and
// limitBytes, at most one of sinceSeconds and sinceTime.
func parseLogQuery(q url.Values, now time.Time) (LogOptions, bool, error) {
	opts := LogOptions{TailLines: -1}
	var previous bool
	bad := func(format string, args ...any) (LogOptions, bool, error) {
		return LogOptions{}, false, errorf(http.StatusBadRequest, format, args...)
	}
	for name, dst := range map[string]*bool{"follow": &opts.Follow, "previous": &previous, "timestamps": &opts.Timestamps} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return bad("invalid %s %q: must be true or false", name, v)
			}
			*dst = b
		}
	}
	if v := q.Get("tailLines"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return bad("invalid tailLines %q: must be a non-negative integer", v)
		}
		opts.TailLines = n
	}
	if v := q.Get("limitBytes"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return bad("invalid limitBytes %q: must be a positive integer", v)
		}
		opts.LimitBytes = n
	}
	sinceSeconds, sinceTime := q.Get("sinceSeconds"), q.Get("sinceTime")
	if sinceSeconds != "" && sinceTime != "" {
		return bad("at most one of `sinceTime` or `sinceSeconds` may be specified")
	}
	if sinceSeconds != "" {
		n, err := strconv.ParseInt(sinceSeconds, 10, 64)
		if err != nil || n < 1 {
			return bad("invalid sinceSeconds %q: must be a positive integer", sinceSeconds)
		}
		opts.Since = now.Add(-time.Duration(n) * time.Second)
	}
	if sinceTime != "" {
		t, err := time.Parse(time.RFC3339, sinceTime)
		if err != nil {
			return bad("invalid sinceTime %q: must be an RFC 3339 time", sinceTime)
		}
		opts.Since = t
	}
	return opts, previous, nil
}
