package server

import (
	"encoding/json"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
)

// servePods answers /pods: a PodList of the node's pods.
func (s *Server) servePods(w http.ResponseWriter, _ *http.Request) {
	list := corev1.PodList{}
	list.Kind, list.APIVersion = "PodList", "v1"
	for _, p := range s.cfg.Pods.ListPods() {
		list.Items = append(list.Items, *p)
	}
	if list.Items == nil {
		list.Items = []corev1.Pod{}
	}
	data, err := json.Marshal(&list)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(data)
}

// httpError is an error with the status code the client gets.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) error {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

// writeError answers with err's code (500 for other errors) as plain text,
// which the API server passes on to the client.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	if he, ok := err.(*httpError); ok {
		code = he.code
	}
	http.Error(w, err.Error(), code)
}

// podContainer is a pod's container resolved to the runtime.
type podContainer struct {
	pod       *corev1.Pod
	name      string
	container ContainerInfo
}

// resolvePod finds a pod of this node; uid, when given, must match (a
// pod of the same name may have been recreated).
func (s *Server) resolvePod(r *http.Request) (*corev1.Pod, error) {
	ns, name := r.PathValue("namespace"), r.PathValue("pod")
	pod, ok := s.cfg.Pods.GetPod(ns, name)
	if !ok {
		return nil, errorf(http.StatusNotFound, "pod %q not found in namespace %q on this node", name, ns)
	}
	if uid := r.PathValue("uid"); uid != "" && string(pod.UID) != uid {
		return nil, errorf(http.StatusNotFound, "pod %s/%s with UID %s not found on this node", ns, name, uid)
	}
	return pod, nil
}

// resolveContainer finds the runtime container of the pod and container
// named in the path.
func (s *Server) resolveContainer(r *http.Request, previous bool) (podContainer, error) {
	pod, err := s.resolvePod(r)
	if err != nil {
		return podContainer{}, err
	}
	name := r.PathValue("container")
	if !podHasContainer(pod, name) {
		return podContainer{}, errorf(http.StatusNotFound, "container %q not found in pod %s/%s", name, pod.Namespace, pod.Name)
	}
	c, ok := s.cfg.Containers.Container(pod.UID, name, previous)
	if !ok {
		if previous {
			return podContainer{}, errorf(http.StatusBadRequest, "previous terminated container %q in pod %q not found", name, pod.Name)
		}
		return podContainer{}, errorf(http.StatusBadRequest, "container %q in pod %q is not available", name, pod.Name)
	}
	return podContainer{pod: pod, name: name, container: c}, nil
}

func podHasContainer(pod *corev1.Pod, name string) bool {
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}
