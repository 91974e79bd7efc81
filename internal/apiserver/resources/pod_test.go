package resources

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// testPod is a created pod: prepared, defaulted and valid.
func testPod(t *testing.T) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u1", ResourceVersion: "5", Labels: map[string]string{"app": "web"}},
		Spec:       testPodSpec(),
	}
	pod.Spec.Tolerations = []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpExists}}
	r := Pods()
	r.Default(pod)
	r.PrepareForCreate(pod)
	if errs := r.Validate(pod); len(errs) > 0 {
		t.Fatalf("test pod is invalid: %v", errs)
	}
	return pod
}

func TestPodGolden(t *testing.T) {
	for _, name := range []string{"pod-minimal", "pod-full"} {
		t.Run(name, func(t *testing.T) { checkCreateGolden(t, Pods(), name) })
	}
}

func TestPodDescriptor(t *testing.T) {
	r := Pods()
	if r.GVK() != corev1.SchemeGroupVersion.WithKind("Pod") || r.Resource != "pods" || !r.Namespaced || !r.HasStatus ||
		!reflect.DeepEqual(r.ShortNames, []string{"po"}) || !reflect.DeepEqual(r.Categories, []string{"all"}) {
		t.Errorf("descriptor = %+v", r)
	}
	kinds := map[string]schema.GroupVersionKind{}
	for _, s := range r.Subresources {
		kinds[s.Name] = s.Kind
	}
	if kinds["eviction"] != (schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}) ||
		kinds["binding"].Kind != "Binding" || kinds["log"].Kind != "Pod" || kinds["exec"].Kind != "PodExecOptions" {
		t.Errorf("subresources = %v", kinds)
	}
}

func TestPodPrepareForCreate(t *testing.T) {
	pod := &corev1.Pod{Spec: testPodSpec(), Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"}}
	pod.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
	Pods().PrepareForCreate(pod)
	if pod.Generation != 1 || pod.Status.Phase != corev1.PodPending || pod.Status.PodIP != "" || pod.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("status = %+v, generation %d", pod.Status, pod.Generation)
	}
	if c := pod.Status.Conditions; len(c) != 1 || c[0].Type != corev1.PodScheduled || c[0].Reason != corev1.PodReasonSchedulingGated {
		t.Errorf("conditions = %+v", c)
	}
}

func TestPodAdmissionDefaults(t *testing.T) {
	pod := &corev1.Pod{Spec: testPodSpec()}
	pod.Spec.PriorityClassName = "system-node-critical"
	pod.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	Pods().Default(pod)
	// Priority is admission's, on create (pod_priority_test.go).
	if pod.Spec.Priority != nil || pod.Spec.PreemptionPolicy != nil {
		t.Errorf("defaulting set priority %v, preemption policy %v", pod.Spec.Priority, pod.Spec.PreemptionPolicy)
	}
	if len(pod.Spec.Tolerations) != 1 {
		t.Errorf("a pod tolerating everything got tolerations %v", pod.Spec.Tolerations)
	}
	if pod.Spec.ServiceAccountName != "default" || pod.Spec.DeprecatedServiceAccount != "default" {
		t.Errorf("service account = %q/%q", pod.Spec.ServiceAccountName, pod.Spec.DeprecatedServiceAccount)
	}

	mirror := &corev1.Pod{Spec: testPodSpec()}
	mirror.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"}
	mirror.Spec.PriorityClassName = "custom"
	Pods().Default(mirror)
	if mirror.Spec.ServiceAccountName != "" || mirror.Spec.Priority != nil {
		t.Errorf("mirror pod got service account %q, priority %v", mirror.Spec.ServiceAccountName, mirror.Spec.Priority)
	}

	created := testPod(t)
	again := created.DeepCopy()
	Pods().Default(again)
	if !reflect.DeepEqual(created, again) {
		t.Errorf("defaulting a created pod again changed it")
	}
}

func TestPodQOSClass(t *testing.T) {
	res := func(kv ...string) corev1.ResourceList {
		rl := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			rl[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return rl
	}
	ctr := func(req, lim corev1.ResourceList) corev1.Container {
		return corev1.Container{Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}
	}
	cases := []struct {
		name string
		ctrs []corev1.Container
		init []corev1.Container
		want corev1.PodQOSClass
	}{
		{"nothing", []corev1.Container{ctr(nil, nil)}, nil, corev1.PodQOSBestEffort},
		{"only other resources", []corev1.Container{ctr(res("ephemeral-storage", "1Gi"), nil)}, nil, corev1.PodQOSBestEffort},
		{"limits only", []corev1.Container{ctr(nil, res("cpu", "1", "memory", "1Gi"))}, nil, corev1.PodQOSGuaranteed},
		{"equal", []corev1.Container{ctr(res("cpu", "1", "memory", "1Gi"), res("cpu", "1", "memory", "1Gi"))}, nil, corev1.PodQOSGuaranteed},
		{"request below limit", []corev1.Container{ctr(res("cpu", "500m", "memory", "1Gi"), res("cpu", "1", "memory", "1Gi"))}, nil, corev1.PodQOSBurstable},
		{"cpu limit only", []corev1.Container{ctr(nil, res("cpu", "1"))}, nil, corev1.PodQOSBurstable},
		{"requests only", []corev1.Container{ctr(res("memory", "1Gi"), nil)}, nil, corev1.PodQOSBurstable},
		{"one container unlimited", []corev1.Container{ctr(nil, res("cpu", "1", "memory", "1Gi")), ctr(nil, nil)}, nil, corev1.PodQOSBurstable},
		{"init container unlimited", []corev1.Container{ctr(nil, res("cpu", "1", "memory", "1Gi"))},
			[]corev1.Container{ctr(res("cpu", "100m"), nil)}, corev1.PodQOSBurstable},
	}
	for _, tc := range cases {
		spec := corev1.PodSpec{Containers: tc.ctrs, InitContainers: tc.init}
		if got := podQOSClass(&spec); got != tc.want {
			t.Errorf("%s: QoS = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestPodGracePeriod(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	cases := []struct {
		name      string
		node      string
		phase     corev1.PodPhase
		spec      *int64
		requested *int64
		grace     int64
		graceful  bool
	}{
		{"unbound", "", corev1.PodPending, i64(30), nil, 0, false},
		{"unbound with request", "", corev1.PodPending, i64(30), i64(10), 0, false},
		{"succeeded", "n1", corev1.PodSucceeded, i64(30), nil, 0, false},
		{"failed", "n1", corev1.PodFailed, i64(30), i64(5), 0, false},
		{"force", "n1", corev1.PodRunning, i64(30), i64(0), 0, false},
		{"spec period", "n1", corev1.PodRunning, i64(45), nil, 45, true},
		{"spec zero", "n1", corev1.PodRunning, i64(0), nil, 0, false},
		{"no spec period", "n1", corev1.PodRunning, nil, nil, 30, true},
		{"requested", "n1", corev1.PodRunning, i64(45), i64(5), 5, true},
		{"negative", "n1", corev1.PodRunning, i64(45), i64(-1), 1, true},
	}
	r := Pods()
	for _, tc := range cases {
		pod := &corev1.Pod{Spec: corev1.PodSpec{NodeName: tc.node, TerminationGracePeriodSeconds: tc.spec}, Status: corev1.PodStatus{Phase: tc.phase}}
		grace, graceful := r.GracefulDeletion(pod, tc.requested)
		if grace != tc.grace || graceful != tc.graceful {
			t.Errorf("%s: got (%d, %v), want (%d, %v)", tc.name, grace, graceful, tc.grace, tc.graceful)
		}
	}
}

func TestPodFields(t *testing.T) {
	pod := testPod(t)
	pod.Spec.NodeName = "n1"
	pod.Status.PodIPs = []corev1.PodIP{{IP: "10.42.0.5"}, {IP: "fd00::5"}}
	pod.Status.NominatedNodeName = "n2"
	want := fields.Set{
		"spec.nodeName": "n1", "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
		"spec.serviceAccountName": "default", "spec.hostNetwork": "false", "status.phase": "Pending",
		"status.podIP": "10.42.0.5", "status.nominatedNodeName": "n2",
	}
	if got := Pods().Fields(pod); !reflect.DeepEqual(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
	sel := fields.ParseSelectorOrDie("spec.nodeName=n1,status.phase!=Succeeded,status.phase!=Failed")
	if !sel.Matches(Pods().Fields(pod)) {
		t.Errorf("kubectl describe node's selector does not match")
	}
	// The watch cache's index must read what the field selector matches.
	idx := Pods().Index
	for _, node := range []string{"n1", ""} {
		pod.Spec.NodeName = node
		if got, want := idx.Value(pod), Pods().Fields(pod)[idx.Field]; got != want {
			t.Errorf("index %s = %q, field set gives %q", idx.Field, got, want)
		}
	}
}

func TestPodValidateMeta(t *testing.T) {
	pod := testPod(t)
	pod.Namespace = ""
	pod.Name = "Web"
	checkErrorKeys(t, Pods().Validate(pod), []string{"FieldValueRequired metadata.namespace", "FieldValueInvalid metadata.name"})

	pod = testPod(t)
	pod.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debug", Image: "busybox", ImagePullPolicy: "Always", TerminationMessagePolicy: "File"}}}
	pod.Spec.Containers[0].Image = " busybox"
	checkErrorKeys(t, Pods().Validate(pod), []string{
		"FieldValueForbidden spec.ephemeralContainers", "FieldValueInvalid spec.containers[0].image"})
}

func TestPodUpdate(t *testing.T) {
	forbidden := []string{"FieldValueForbidden spec"}
	cases := []struct {
		name    string
		mutate  func(p *corev1.Pod)
		want    []string
		message string // in the detail of the first error
	}{
		{"labels", func(p *corev1.Pod) { p.Labels["tier"] = "front" }, nil, ""},
		{"image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "busybox:1.37" }, nil, ""},
		{"empty image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, []string{"FieldValueRequired spec.containers[0].image"}, ""},
		{"set deadline", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = podspecRef(int64(60)) }, nil, ""},
		{"add toleration", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "fpga", Operator: corev1.TolerationOpExists})
		}, nil, ""},
		{"shorten toleration", func(p *corev1.Pod) { p.Spec.Tolerations[1].TolerationSeconds = podspecRef(int64(10)) }, nil, ""},
		{"remove toleration", func(p *corev1.Pod) { p.Spec.Tolerations = p.Spec.Tolerations[1:] }, []string{"FieldValueForbidden spec.tolerations"}, ""},
		{"remove default toleration", func(p *corev1.Pod) { p.Spec.Tolerations = p.Spec.Tolerations[:1] }, nil, ""},
		{"node name", func(p *corev1.Pod) { p.Spec.NodeName = "n1" }, forbidden, "changed: spec.nodeName"},
		{"ports", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 9090 }, forbidden, "changed: spec.containers[0].ports"},
		{"add container", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, *p.Spec.Containers[0].DeepCopy())
			p.Spec.Containers[1].Name = "second"
		}, []string{"FieldValueForbidden spec.containers"}, "may not add or remove containers"},
		{"add gate", func(p *corev1.Pod) {
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/gate"}}
		}, []string{"FieldValueForbidden spec.schedulingGates[0]"}, ""},
		{"rename", func(p *corev1.Pod) { p.Name = "other" }, []string{"FieldValueInvalid metadata.name"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := testPod(t)
			pod := old.DeepCopy()
			tc.mutate(pod)
			r := Pods()
			r.Default(pod)
			errs := r.ValidateUpdate(pod, old)
			checkErrorKeys(t, errs, tc.want)
			if tc.message != "" && (len(errs) == 0 || !strings.Contains(errs[0].Detail, tc.message)) {
				t.Errorf("error detail does not say %q: %v", tc.message, errs)
			}
		})
	}
}

func TestPodUpdateDeadline(t *testing.T) {
	for _, tc := range []struct {
		was, now *int64
		want     []string
	}{
		{podspecRef(int64(60)), podspecRef(int64(30)), nil},
		{podspecRef(int64(60)), podspecRef(int64(90)), []string{"FieldValueInvalid spec.activeDeadlineSeconds"}},
		{podspecRef(int64(60)), nil, []string{"FieldValueInvalid spec.activeDeadlineSeconds"}},
	} {
		old := testPod(t)
		old.Spec.ActiveDeadlineSeconds = tc.was
		pod := old.DeepCopy()
		pod.Spec.ActiveDeadlineSeconds = tc.now
		checkErrorKeys(t, Pods().ValidateUpdate(pod, old), tc.want)
	}
}

func TestPodStatusUpdate(t *testing.T) {
	cases := []struct {
		name   string
		was    corev1.PodPhase
		mutate func(s *corev1.PodStatus)
		want   []string
	}{
		{"running", corev1.PodPending, func(s *corev1.PodStatus) {
			s.Phase = corev1.PodRunning
			s.PodIP = "10.42.0.5"
			s.PodIPs = []corev1.PodIP{{IP: "10.42.0.5"}}
			s.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
			s.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", RestartCount: 2}}
		}, nil},
		{"unknown phase", corev1.PodPending, func(s *corev1.PodStatus) { s.Phase = "Sleeping" }, []string{"FieldValueNotSupported status.phase"}},
		{"terminal phase", corev1.PodSucceeded, func(s *corev1.PodStatus) { s.Phase = corev1.PodRunning }, []string{"FieldValueForbidden status.phase"}},
		{"conditions", corev1.PodPending, func(s *corev1.PodStatus) {
			s.Conditions = []corev1.PodCondition{
				{Type: corev1.PodReady, Status: corev1.ConditionTrue},
				{Type: corev1.PodReady, Status: "Maybe"},
				{Type: "bad type!", Status: corev1.ConditionTrue},
			}
		}, []string{
			"FieldValueDuplicate status.conditions[1].type",
			"FieldValueNotSupported status.conditions[1].status",
			"FieldValueInvalid status.conditions[2].type",
		}},
		{"ips", corev1.PodPending, func(s *corev1.PodStatus) {
			s.PodIPs = []corev1.PodIP{{IP: "10.42.0.500"}}
			s.ContainerStatuses = []corev1.ContainerStatus{{RestartCount: -1}}
		}, []string{
			"FieldValueInvalid status.podIPs[0].ip",
			"FieldValueRequired status.containerStatuses[0].name",
			"FieldValueInvalid status.containerStatuses[0].restartCount",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := testPod(t)
			old.Status.Phase = tc.was
			pod := old.DeepCopy()
			tc.mutate(&pod.Status)
			checkErrorKeys(t, Pods().ValidateStatusUpdate(pod, old), tc.want)
		})
	}
}
