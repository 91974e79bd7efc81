package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	"github.com/skiff-sh/skiff/internal/auth"
)

// remoteCommandOptions are PodExecOptions or PodAttachOptions as read
// from the query.
type remoteCommandOptions struct {
	container                  string
	command                    []string
	stdin, stdout, stderr, tty bool
}

func parseRemoteCommandOptions(q url.Values, exec bool) (remoteCommandOptions, error) {
	o := remoteCommandOptions{container: q.Get("container"), command: q["command"]}
	for name, dst := range map[string]*bool{"stdin": &o.stdin, "stdout": &o.stdout, "stderr": &o.stderr, "tty": &o.tty} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, apierrors.NewBadRequest(fmt.Sprintf("invalid value %q for %s: must be true or false", v, name))
			}
			*dst = b
		}
	}
	if !o.stdin && !o.stdout && !o.stderr {
		return o, apierrors.NewBadRequest("you must specify at least 1 of stdin, stdout, stderr")
	}
	if exec && len(o.command) == 0 {
		return o, apierrors.NewBadRequest("PodExecOptions is invalid: [command: Required value]")
	}
	if o.tty {
		// A terminal carries stderr on stdout.
		o.stderr = false
	}
	return o, nil
}

// kubeletQuery is the kubelet's exec/attach query for o.
func (o remoteCommandOptions) kubeletQuery() url.Values {
	q := url.Values{}
	for _, c := range o.command {
		q.Add("command", c)
	}
	for name, b := range map[string]bool{"input": o.stdin, "output": o.stdout, "error": o.stderr, "tty": o.tty} {
		if b {
			q.Set(name, "1")
		}
	}
	return q
}

// servePodRemoteCommand serves pods/exec and pods/attach: SPDY upgrades
// are proxied to the kubelet as they are; WebSocket (v5.channel.k8s.io,
// what kubectl tries first) is translated to SPDY towards the kubelet.
func (s *Server) servePodRemoteCommand(ctx context.Context, w http.ResponseWriter, r *http.Request, pod *corev1.Pod, ri requestInfo) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		s.writeError(w, r, methodNotAllowed(r.Method, "pods/"+ri.Subresource))
		return
	}
	if err := s.authorizeStreamCreate(ctx, r, ri); err != nil {
		s.writeError(w, r, err)
		return
	}
	exec := ri.Subresource == "exec"
	o, err := parseRemoteCommandOptions(r.URL.Query(), exec)
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
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name)))
		return
	}
	base, err := s.kubeletURL(ctx, pod.Spec.NodeName)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	target := *base
	target.Path = "/" + ri.Subresource + "/" + url.PathEscape(pod.Namespace) + "/" + url.PathEscape(pod.Name) + "/" + url.PathEscape(container)
	target.RawQuery = o.kubeletQuery().Encode()
	if wsstream.IsWebSocketRequestWithStreamCloseProtocol(r) {
		s.translateRemoteCommand(w, r, &target, o)
		return
	}
	s.proxyToKubelet(w, r, &target, &kubeletErrorTarget{resource: corev1.Resource("pods/" + ri.Subresource), name: pod.Name})
}

// servePodPortForward serves pods/portforward: SPDY is proxied to the
// kubelet; SPDY tunnelled in a WebSocket (kubectl's first try) is
// unwrapped on the way.
func (s *Server) servePodPortForward(ctx context.Context, w http.ResponseWriter, r *http.Request, pod *corev1.Pod, ri requestInfo) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		s.writeError(w, r, methodNotAllowed(r.Method, "pods/portforward"))
		return
	}
	if err := s.authorizeStreamCreate(ctx, r, ri); err != nil {
		s.writeError(w, r, err)
		return
	}
	q := url.Values{}
	for _, v := range r.URL.Query()["ports"] {
		p, err := strconv.ParseUint(v, 10, 16)
		if err != nil || p == 0 {
			s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("PodPortForwardOptions is invalid: [ports: Invalid value: %q: must be between 1 and 65535, inclusive]", v)))
			return
		}
		q.Add("port", strconv.FormatUint(p, 10))
	}
	if pod.Spec.NodeName == "" {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name)))
		return
	}
	base, err := s.kubeletURL(ctx, pod.Spec.NodeName)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	target := *base
	target.Path = "/portForward/" + url.PathEscape(pod.Namespace) + "/" + url.PathEscape(pod.Name)
	target.RawQuery = q.Encode()
	if wsstream.IsWebSocketRequestWithTunnelingProtocol(r) {
		s.tunnelPortForward(w, r, &target)
		return
	}
	s.proxyToKubelet(w, r, &target, &kubeletErrorTarget{resource: podsPortForwardResource, name: pod.Name})
}

// authorizeStreamCreate: a stream opened with GET (as WebSockets are)
// runs commands or reaches ports all the same, so beyond the "get" the
// filter authorized it needs "create", as a POST would.
func (s *Server) authorizeStreamCreate(ctx context.Context, r *http.Request, ri requestInfo) error {
	if s.cfg.Authorizer == nil || r.Method != http.MethodGet {
		return nil
	}
	u, _ := auth.UserFrom(ctx)
	attrs := auth.Attributes{User: u, Verb: "create", Namespace: ri.Namespace, APIGroup: ri.APIGroup, APIVersion: ri.APIVersion,
		Resource: ri.Resource, Subresource: ri.Subresource, Name: ri.Name, Path: r.URL.Path, ResourceRequest: true}
	decision, reason, err := s.cfg.Authorizer.Authorize(ctx, attrs)
	if err == nil && decision == auth.DecisionAllow {
		return nil
	}
	name := "unknown"
	if u != nil {
		name = u.Name
	}
	msg := fmt.Sprintf("User %q cannot create resource %q in API group %q", name, ri.Resource+"/"+ri.Subresource, ri.APIGroup)
	if reason != "" {
		msg += ": " + reason
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: ri.APIGroup, Resource: ri.Resource}, ri.Name, fmt.Errorf("%s", msg))
}
