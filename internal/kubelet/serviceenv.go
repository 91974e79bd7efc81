package kubelet

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// serviceEnv returns the docker-links style variables of the services a
// pod sees: the kubernetes Service in default always (in-cluster clients
// find the API server through KUBERNETES_SERVICE_HOST/PORT), and the
// services of the pod's namespace when enableServiceLinks is on (the
// default). Headless services have none. The Services come from the
// configured lister (as upstream's kubelet reads them; until it has
// synced the variables cannot be known and the container waits), else
// from the API server.
func (k *Kubelet) serviceEnv(ctx context.Context, pod *corev1.Pod) (*envList, error) {
	list := func(ns string) ([]*corev1.Service, error) {
		l, err := k.client.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		out := make([]*corev1.Service, len(l.Items))
		for i := range l.Items {
			out[i] = &l.Items[i]
		}
		return out, nil
	}
	get := func(ns, name string) (*corev1.Service, error) {
		return k.client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	}
	if lister := k.cfg.Services; lister != nil {
		if k.cfg.ServicesSynced != nil && !k.cfg.ServicesSynced() {
			return nil, errors.New("services have not yet been read at least once, cannot construct envvars")
		}
		list = func(ns string) ([]*corev1.Service, error) { return lister.Services(ns).List(labels.Everything()) }
		get = func(ns, name string) (*corev1.Service, error) { return lister.Services(ns).Get(name) }
	}
	byName := map[string]*corev1.Service{}
	if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
		svcs, err := list(pod.Namespace)
		if err != nil {
			return nil, fmt.Errorf("list services: %w", err)
		}
		for _, svc := range svcs {
			byName[svc.Name] = svc
		}
	}
	if _, ok := byName["kubernetes"]; !ok {
		svc, err := get(metav1.NamespaceDefault, "kubernetes")
		switch {
		case err == nil:
			byName["kubernetes"] = svc
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("get the kubernetes service: %w", err)
		}
	}
	return serviceVars(byName), nil
}

// serviceVars is the variables of the services by name, in name order.
func serviceVars(byName map[string]*corev1.Service) *envList {
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)
	env := newEnvList()
	for _, name := range names {
		addServiceVars(env, byName[name])
	}
	return env
}

// addServiceVars adds FOO_SERVICE_HOST, FOO_SERVICE_PORT[_<NAME>] and
// FOO_PORT[_<port>_<PROTO>[_PROTO|_PORT|_ADDR]] for service foo.
func addServiceVars(env *envList, svc *corev1.Service) {
	ip := svc.Spec.ClusterIP
	if ip == "" || ip == corev1.ClusterIPNone || len(svc.Spec.Ports) == 0 {
		return
	}
	prefix := strings.ToUpper(strings.ReplaceAll(svc.Name, "-", "_"))
	host := ip
	if strings.Contains(ip, ":") {
		host = "[" + ip + "]"
	}
	first := svc.Spec.Ports[0]
	env.set(prefix+"_SERVICE_HOST", ip)
	env.set(prefix+"_SERVICE_PORT", strconv.Itoa(int(first.Port)))
	for _, p := range svc.Spec.Ports {
		if p.Name != "" {
			env.set(prefix+"_SERVICE_PORT_"+strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_")), strconv.Itoa(int(p.Port)))
		}
	}
	proto := strings.ToLower(string(first.Protocol))
	if proto == "" {
		proto = "tcp"
	}
	env.set(prefix+"_PORT", fmt.Sprintf("%s://%s:%d", proto, host, first.Port))
	for _, p := range svc.Spec.Ports {
		proto := strings.ToLower(string(p.Protocol))
		if proto == "" {
			proto = "tcp"
		}
		base := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(proto))
		env.set(base, fmt.Sprintf("%s://%s:%d", proto, host, p.Port))
		env.set(base+"_PROTO", proto)
		env.set(base+"_PORT", strconv.Itoa(int(p.Port)))
		env.set(base+"_ADDR", ip)
	}
}
