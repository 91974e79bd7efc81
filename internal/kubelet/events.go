package kubelet

import (
	"fmt"

	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
)

// podRef references a pod in events.
func podRef(pod *corev1.Pod) *corev1.ObjectReference {
	return &corev1.ObjectReference{
		Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
	}
}

// containerRef references one container of a pod in events, by field
// path as upstream does (spec.containers{name}), so kubectl describe
// shows which container an event is about.
func containerRef(pod *corev1.Pod, c *corev1.Container) *corev1.ObjectReference {
	ref := podRef(pod)
	ref.FieldPath = fieldPathOf(pod, c.Name)
	return ref
}

func fieldPathOf(pod *corev1.Pod, name string) string {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return fmt.Sprintf("spec.initContainers{%s}", name)
		}
	}
	return fmt.Sprintf("spec.containers{%s}", name)
}

func (k *Kubelet) podEvent(pod *corev1.Pod, eventType, reason, message string) {
	k.recorder.Event(podRef(pod), eventType, reason, message)
}

// grpcMessage is a runtime error's message without the "rpc error: code
// = X desc =" wrapping, as upstream shows it in "Error: ..." events.
func grpcMessage(err error) string {
	if s, ok := status.FromError(err); ok {
		return s.Message()
	}
	return err.Error()
}
