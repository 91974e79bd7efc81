package kubelet_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/kubelet"
)

func TestEnvResolution(t *testing.T) {
	client, ns := controllertest.Start(t)
	n := startNode(t, client, "node-a")
	ctx := context.Background()
	if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cfg"},
		Data:       map[string]string{"a": "1", "mode": "fast"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "creds"},
		Data:       map[string][]byte{"password": []byte("hunter2")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	optional := true
	field := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
	}
	pod := basicPod(ns, "envy", "node-a", "echo", "$(A)", "$(UNDEFINED)")
	pod.Spec.ServiceAccountName = "default"
	c := &pod.Spec.Containers[0]
	c.Args = []string{"$$(A)"}
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}
	c.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
	c.EnvFrom = []corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}
	c.Env = []corev1.EnvVar{
		{Name: "A", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "a"}}},
		{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "password"}}},
		{Name: "MISSING_OK", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "nope", Optional: &optional}}},
		{Name: "POD_NAME", ValueFrom: field("metadata.name")},
		{Name: "POD_NS", ValueFrom: field("metadata.namespace")},
		{Name: "POD_UID", ValueFrom: field("metadata.uid")},
		{Name: "APP", ValueFrom: field("metadata.labels['app']")},
		{Name: "NODE", ValueFrom: field("spec.nodeName")},
		{Name: "SA", ValueFrom: field("spec.serviceAccountName")},
		{Name: "POD_IP", ValueFrom: field("status.podIP")},
		{Name: "HOST_IP", ValueFrom: field("status.hostIP")},
		{Name: "CPU_LIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
		{Name: "MEM_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.memory", Divisor: resource.MustParse("1Mi")}}},
		{Name: "COMBINED", Value: "$(A)-$(POD_NAME)-$(CM_mode)"},
		{Name: "ESCAPED", Value: "$$(A)"},
	}
	created := createPod(t, client, pod)
	cfg := startedContainer(t, client, n, ns, "envy")
	env := map[string]string{}
	for _, kv := range cfg.Envs {
		env[kv.Key] = string(kv.Value)
	}
	want := map[string]string{
		"A": "1", "PW": "hunter2", "POD_NAME": "envy", "POD_NS": ns, "POD_UID": string(created.UID),
		"APP": "envy", "NODE": "node-a", "SA": "default", "HOST_IP": "10.0.0.10",
		"CPU_LIMIT": "1", "MEM_MI": "64", "COMBINED": "1-envy-fast", "ESCAPED": "$(A)",
		"CM_a": "1", "CM_mode": "fast", "KUBERNETES_SERVICE_PORT": "443",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	if !strings.HasPrefix(env["POD_IP"], "10.88.") {
		t.Errorf("POD_IP = %q", env["POD_IP"])
	}
	if env["KUBERNETES_SERVICE_HOST"] == "" {
		t.Errorf("no KUBERNETES_SERVICE_HOST in %v", env)
	}
	if _, ok := env["MISSING_OK"]; ok {
		t.Errorf("optional missing key was set")
	}
	if strings.Join(cfg.Command, " ") != "echo 1 $(UNDEFINED)" || strings.Join(cfg.Args, " ") != "$(A)" {
		t.Errorf("command %q args %q", cfg.Command, cfg.Args)
	}
}

func TestEnvMissingReferenceIsConfigError(t *testing.T) {
	client, ns := controllertest.Start(t)
	startNode(t, client, "node-a")
	ctx := context.Background()
	if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cfg"}, Data: map[string]string{"a": "1"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ref := func(cm, key string) []corev1.EnvVar {
		return []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: cm}, Key: key}}}}
	}
	missingKey := basicPod(ns, "missing-key", "node-a", "sleep", "3600")
	missingKey.Spec.Containers[0].Env = ref("cfg", "nope")
	createPod(t, client, missingKey)
	missingCM := basicPod(ns, "missing-cm", "node-a", "sleep", "3600")
	missingCM.Spec.Containers[0].Env = ref("later", "k")
	createPod(t, client, missingCM)
	missingSecret := basicPod(ns, "missing-secret", "node-a", "sleep", "3600")
	missingSecret.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "S", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "nosecret"}, Key: "k"}}}}
	createPod(t, client, missingSecret)

	for name, msg := range map[string]string{
		"missing-key":    "couldn't find key nope in ConfigMap " + ns + "/cfg",
		"missing-cm":     `configmap "later" not found`,
		"missing-secret": `secret "nosecret" not found`,
	} {
		got := waitPod(t, client, ns, name, 10*time.Second, func(p *corev1.Pod) error {
			if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil ||
				p.Status.ContainerStatuses[0].State.Waiting.Reason != "CreateContainerConfigError" {
				return fmt.Errorf("statuses %+v", p.Status.ContainerStatuses)
			}
			return nil
		})
		if w := got.Status.ContainerStatuses[0].State.Waiting; w.Message != msg {
			t.Errorf("%s: message %q, want %q", name, w.Message, msg)
		}
		if got.Status.Phase != corev1.PodPending {
			t.Errorf("%s: phase %s", name, got.Status.Phase)
		}
		waitEvent(t, client, got, "Warning Failed Error: "+msg)
	}

	// Once the ConfigMap exists the pod starts (on the next resync).
	if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "later"}, Data: map[string]string{"k": "v"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPod(t, client, ns, "missing-cm", 10*time.Second, func(p *corev1.Pod) error {
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		return nil
	})
}

// Service variables are the same whether the kubelet reads Services from
// the API server at each start or from an informer's lister, and a
// Service created after the informer synced is seen.
func TestServiceEnvFromLister(t *testing.T) {
	client, ns := controllertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	services := factory.Core().V1().Services()
	_ = services.Informer()
	factory.Start(ctx.Done())
	t.Cleanup(func() { cancel(); factory.Shutdown() })
	factory.WaitForCacheSync(ctx.Done())
	if _, err := client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "redis-primary"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "db", Port: 6379, Protocol: corev1.ProtocolTCP}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	envOf := func(n *testNode, name string) map[string]string {
		t.Helper()
		createPod(t, client, basicPod(ns, name, n.cfg.NodeName, "true"))
		cfg := startedContainer(t, client, n, ns, name)
		env := map[string]string{}
		for _, kv := range cfg.Envs {
			if strings.Contains(kv.Key, "SERVICE") || strings.HasSuffix(kv.Key, "_PORT") || strings.Contains(kv.Key, "_PORT_") {
				env[kv.Key] = string(kv.Value)
			}
		}
		return env
	}
	fromAPI := envOf(startNode(t, client, "node-api"), "via-api")
	fromLister := envOf(startNode(t, client, "node-lister", func(c *kubelet.Config) {
		c.Services, c.ServicesSynced = services.Lister(), services.Informer().HasSynced
	}), "via-lister")
	if fromAPI["REDIS_PRIMARY_SERVICE_PORT_DB"] != "6379" || fromAPI["KUBERNETES_SERVICE_PORT"] != "443" {
		t.Fatalf("API-read variables lack the services: %v", fromAPI)
	}
	if fmt.Sprint(fromAPI) != fmt.Sprint(fromLister) {
		t.Errorf("variables differ:\n api    %v\n lister %v", fromAPI, fromLister)
	}
}

// startedContainer waits until pod name's first container has started on
// n and returns the configuration the kubelet created it with.
func startedContainer(t *testing.T, client kubernetes.Interface, n *testNode, ns, name string) *runtimeapi.ContainerConfig {
	t.Helper()
	got := waitPod(t, client, ns, name, 10*time.Second, func(p *corev1.Pod) error {
		if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].ContainerID == "" {
			return fmt.Errorf("not started: %+v", p.Status.ContainerStatuses)
		}
		return nil
	})
	cfg, ok := n.rt.ContainerConfig(strings.TrimPrefix(got.Status.ContainerStatuses[0].ContainerID, "fake://"))
	if !ok {
		t.Fatal("container config not found")
	}
	return cfg
}
