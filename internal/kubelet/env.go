package kubelet

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/skiff-sh/skiff/internal/kubelet/volume"
)

// envVar is one resolved variable, in the order the container gets them.
type envVar struct{ name, value string }

// envList keeps variables in first-definition order with later values
// winning, and answers $(VAR) lookups.
type envList struct {
	order  []string
	values map[string]string
}

func newEnvList() *envList { return &envList{values: map[string]string{}} }

func (l *envList) set(name, value string) {
	if _, ok := l.values[name]; !ok {
		l.order = append(l.order, name)
	}
	l.values[name] = value
}

func (l *envList) lookup(name string) (string, bool) {
	v, ok := l.values[name]
	return v, ok
}

func (l *envList) vars() []envVar {
	out := make([]envVar, len(l.order))
	for i, n := range l.order {
		out[i] = envVar{n, l.values[n]}
	}
	return out
}

// makeEnv resolves a container's environment as upstream's kubelet does:
// envFrom sources first (prefixed; keys that are not valid names are
// skipped with an event), then env in order (values expanded against the
// variables so far and the service variables), then the service link
// variables not already defined. A missing ConfigMap, Secret or key that
// is not optional is an error, reported as CreateContainerConfigError.
func (k *Kubelet) makeEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, podIPs []string) (*envList, error) {
	env := newEnvList()
	cache := &objectCache{k: k, ctx: ctx, ns: pod.Namespace}
	for _, from := range c.EnvFrom {
		var data map[string]string
		var kind, name string
		switch {
		case from.ConfigMapRef != nil:
			kind, name = "ConfigMap", from.ConfigMapRef.Name
			cm, err := cache.configMap(name)
			if err != nil {
				if apierrors.IsNotFound(err) && isOptional(from.ConfigMapRef.Optional) {
					continue
				}
				return nil, err
			}
			data = cm.Data
		case from.SecretRef != nil:
			kind, name = "Secret", from.SecretRef.Name
			sec, err := cache.secret(name)
			if err != nil {
				if apierrors.IsNotFound(err) && isOptional(from.SecretRef.Optional) {
					continue
				}
				return nil, err
			}
			data = map[string]string{}
			for key, v := range sec.Data {
				data[key] = string(v)
			}
		default:
			continue
		}
		keys := make([]string, 0, len(data))
		for key := range data {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		var invalid []string
		for _, key := range keys {
			varName := from.Prefix + key
			if !isEnvVarName(varName) {
				invalid = append(invalid, key)
				continue
			}
			env.set(varName, data[key])
		}
		if len(invalid) > 0 {
			k.podEvent(pod, corev1.EventTypeWarning, "InvalidEnvironmentVariableNames",
				fmt.Sprintf("Keys [%s] from the EnvFrom %s %s/%s were skipped since they are considered invalid environment variable names.",
					strings.Join(invalid, ", "), strings.ToLower(kind[:1])+kind[1:], pod.Namespace, name))
		}
	}

	services, err := k.serviceEnv(ctx, pod)
	if err != nil {
		return nil, err
	}
	lookup := func(name string) (string, bool) {
		if v, ok := env.lookup(name); ok {
			return v, true
		}
		v, ok := services.lookup(name)
		return v, ok
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env.set(e.Name, expand(e.Value, lookup))
			continue
		}
		v, ok, err := k.envValueFrom(pod, c, e.ValueFrom, podIPs, cache)
		if err != nil {
			return nil, err
		}
		if ok {
			env.set(e.Name, v)
		}
	}
	for _, v := range services.vars() {
		if _, ok := env.lookup(v.name); !ok {
			env.set(v.name, v.value)
		}
	}
	return env, nil
}

// envValueFrom resolves one valueFrom; ok=false skips the variable (an
// optional source that is missing).
func (k *Kubelet) envValueFrom(pod *corev1.Pod, c *corev1.Container, from *corev1.EnvVarSource, podIPs []string, cache *objectCache) (string, bool, error) {
	switch {
	case from.FieldRef != nil:
		v, err := k.podFieldValue(pod, from.FieldRef.FieldPath, podIPs)
		return v, err == nil, err
	case from.ResourceFieldRef != nil:
		v, err := k.resourceFieldValue(pod, c, from.ResourceFieldRef)
		return v, err == nil, err
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := cache.configMap(ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && isOptional(ref.Optional) {
				return "", false, nil
			}
			return "", false, err
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if isOptional(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)
		}
		return v, true, nil
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		sec, err := cache.secret(ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && isOptional(ref.Optional) {
				return "", false, nil
			}
			return "", false, err
		}
		v, ok := sec.Data[ref.Key]
		if !ok {
			if isOptional(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)
		}
		return string(v), true, nil
	}
	return "", false, fmt.Errorf("env var source has no reference")
}

// podFieldValue is the downward API's value of a pod field path, with
// the node's IP and the sandbox's pod IPs as the status fields (the pod's
// status may not carry them yet when its containers are created).
func (k *Kubelet) podFieldValue(pod *corev1.Pod, path string, podIPs []string) (string, error) {
	view := *pod
	view.Status.HostIP = k.nodeIP
	view.Status.HostIPs = []corev1.HostIP{{IP: k.nodeIP}}
	view.Status.PodIP, view.Status.PodIPs = "", nil
	for _, ip := range podIPs {
		view.Status.PodIPs = append(view.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(podIPs) > 0 {
		view.Status.PodIP = podIPs[0]
	}
	return volume.PodFieldValue(&view, path)
}

// resourceFieldValue is a container's request or limit divided by the
// divisor, rounded up; a missing limit is the node's allocatable.
func (k *Kubelet) resourceFieldValue(pod *corev1.Pod, self *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	c := self
	if ref.ContainerName != "" {
		c = nil
		for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
			for i := range list {
				if list[i].Name == ref.ContainerName {
					c = &list[i]
				}
			}
		}
		if c == nil {
			return "", fmt.Errorf("container %s not found", ref.ContainerName)
		}
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || kind != "limits" && kind != "requests" {
		return "", fmt.Errorf("unsupported container resource: %v", ref.Resource)
	}
	list := c.Resources.Requests
	if kind == "limits" {
		list = c.Resources.Limits
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok && kind == "limits" {
		q, ok = k.machine.allocatable[corev1.ResourceName(name)]
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if !ok {
		return "0", nil
	}
	if name == string(corev1.ResourceCPU) {
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), nil
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10), nil
}

func isOptional(b *bool) bool { return b != nil && *b }

// isEnvVarName accepts what the API server accepts for env names:
// printable ASCII without '='.
func isEnvVarName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < 32 || r > 126 || r == '=' {
			return false
		}
	}
	return true
}
