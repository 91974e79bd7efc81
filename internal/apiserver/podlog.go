package apiserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// podLogOptions are PodLogOptions as read from the query.
type podLogOptions struct {
	container                      string
	follow, previous, timestamps   bool
	insecureSkipTLSVerifyBackend   bool
	sinceSeconds, tailLines, limit *int64
	sinceTime                      *time.Time
}

// parsePodLogOptions reads and validates PodLogOptions the way the API
// validates them.
func parsePodLogOptions(q url.Values) (podLogOptions, error) {
	var o podLogOptions
	o.container = q.Get("container")
	for name, dst := range map[string]*bool{"follow": &o.follow, "previous": &o.previous, "timestamps": &o.timestamps,
		"insecureSkipTLSVerifyBackend": &o.insecureSkipTLSVerifyBackend} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, apierrors.NewBadRequest(fmt.Sprintf("invalid value %q for %s: must be true or false", v, name))
			}
			*dst = b
		}
	}
	for name, dst := range map[string]**int64{"sinceSeconds": &o.sinceSeconds, "tailLines": &o.tailLines, "limitBytes": &o.limit} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return o, apierrors.NewBadRequest(fmt.Sprintf("invalid value %q for %s: must be an integer", v, name))
			}
			*dst = &n
		}
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return o, apierrors.NewBadRequest(fmt.Sprintf("invalid value %q for sinceTime: must be an RFC 3339 time", v))
		}
		o.sinceTime = &t
	}
	var errs []string
	if o.tailLines != nil && *o.tailLines < 0 {
		errs = append(errs, "tailLines: Invalid value: "+strconv.FormatInt(*o.tailLines, 10)+": must be greater than or equal to 0")
	}
	if o.limit != nil && *o.limit < 1 {
		errs = append(errs, "limitBytes: Invalid value: "+strconv.FormatInt(*o.limit, 10)+": must be greater than 0")
	}
	if o.sinceSeconds != nil && *o.sinceSeconds < 1 {
		errs = append(errs, "sinceSeconds: Invalid value: "+strconv.FormatInt(*o.sinceSeconds, 10)+": must be greater than 0")
	}
	if o.sinceSeconds != nil && o.sinceTime != nil {
		errs = append(errs, "[]: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified")
	}
	if len(errs) > 0 {
		return o, apierrors.NewBadRequest(fmt.Sprintf("PodLogOptions is invalid: %v", errs))
	}
	return o, nil
}

// kubeletQuery is the kubelet's /containerLogs query for o.
func (o podLogOptions) kubeletQuery() url.Values {
	q := url.Values{}
	setBool := func(name string, b bool) {
		if b {
			q.Set(name, "true")
		}
	}
	setBool("follow", o.follow)
	setBool("previous", o.previous)
	setBool("timestamps", o.timestamps)
	for name, v := range map[string]*int64{"sinceSeconds": o.sinceSeconds, "tailLines": o.tailLines, "limitBytes": o.limit} {
		if v != nil {
			q.Set(name, strconv.FormatInt(*v, 10))
		}
	}
	if o.sinceTime != nil {
		q.Set("sinceTime", o.sinceTime.UTC().Format(time.RFC3339))
	}
	return q
}

// servePodLog streams a container's log from its kubelet: kubectl logs,
// and with follow=true kubectl logs -f, flushed as it comes.
func (s *Server) servePodLog(ctx context.Context, w http.ResponseWriter, r *http.Request, pod *corev1.Pod) {
	if r.Method != http.MethodGet {
		s.writeError(w, r, methodNotAllowed(r.Method, "pods/log"))
		return
	}
	o, err := parsePodLogOptions(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	container, err := podContainerName(pod, o.container)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if pod.Spec.NodeName == "" {
		// Not scheduled: there is no log yet, and Kubernetes answers
		// with an empty one.
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		return
	}
	if err := containerLogStatusError(pod, container, o.previous); err != nil {
		s.writeError(w, r, err)
		return
	}
	base, err := s.kubeletURL(ctx, pod.Spec.NodeName)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u := *base
	u.Path = "/containerLogs/" + url.PathEscape(pod.Namespace) + "/" + url.PathEscape(pod.Name) + "/" + url.PathEscape(container)
	u.RawQuery = o.kubeletQuery().Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		s.writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	transport := s.kubelet.transport
	if o.insecureSkipTLSVerifyBackend {
		transport = s.kubelet.insecure
	}
	resp, err := transport.RoundTrip(req)
	if err != nil {
		s.writeError(w, r, kubeletDialError(err))
		return
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		s.writeError(w, r, kubeletResponseError(resp, podsLogResource, pod.Name))
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	if err := copyFlushing(w, resp.Body); err != nil && ctx.Err() == nil {
		s.log.Debug("streaming pod log", "pod", pod.Namespace+"/"+pod.Name, "container", container, "err", err)
	}
}

var podsLogResource = corev1.Resource("pods/log")

// copyFlushing copies src to w, flushing after each read so a followed
// log reaches the client line by line.
func copyFlushing(w http.ResponseWriter, src io.Reader) error {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if ferr := rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// podContainerName picks the container a log, exec or attach request is
// for: the one named (which must exist), or the pod's only container.
func podContainerName(pod *corev1.Pod, name string) (string, error) {
	var all []string
	for _, c := range pod.Spec.InitContainers {
		all = append(all, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		all = append(all, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		all = append(all, c.Name)
	}
	if name == "" {
		switch len(pod.Spec.Containers) {
		case 1:
			return pod.Spec.Containers[0].Name, nil
		case 0:
			return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", pod.Name))
		default:
			return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %s", pod.Name, all))
		}
	}
	for _, c := range all {
		if c == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}

// containerLogStatusError answers, from the pod's status, what the
// kubelet would for a container with no log to show: one still waiting
// to start, or no previous instance. Unknown status is left to the
// kubelet.
func containerLogStatusError(pod *corev1.Pod, container string, previous bool) error {
	var st *corev1.ContainerStatus
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].Name == container {
				st = &list[i]
			}
		}
	}
	if st == nil {
		return nil
	}
	switch {
	case previous:
		if st.LastTerminationState.Terminated == nil {
			return apierrors.NewBadRequest(fmt.Sprintf("previous terminated container %q in pod %q not found", container, pod.Name))
		}
	case st.State.Running != nil, st.State.Terminated != nil, st.LastTerminationState.Terminated != nil:
	case st.State.Waiting != nil:
		switch reason := st.State.Waiting.Reason; reason {
		case "ErrImagePull":
			return apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: image can't be pulled", container, pod.Name))
		case "ImagePullBackOff":
			return apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: trying and failing to pull image", container, pod.Name))
		default:
			return apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: %s", container, pod.Name, reason))
		}
	}
	return nil
}
