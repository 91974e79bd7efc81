package resources

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// Golden files: testdata/<name>.in.yaml is created through a resource's
// hooks and must come out as testdata/<name>.out.yaml. Rewrite the outputs
// with `go test -update` (when a test file of the package defines that
// flag) or SKIFF_UPDATE_GOLDEN=1.
func workloadGoldenUpdate() bool {
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		return true
	}
	return os.Getenv("SKIFF_UPDATE_GOLDEN") != ""
}

// checkCreateGolden runs testdata/<name>.in.yaml through r's create hooks,
// requires it to validate, and compares the result with <name>.out.yaml.
func checkCreateGolden(t *testing.T, r *Resource, name string) {
	t.Helper()
	in, err := os.ReadFile(filepath.Join("testdata", name+".in.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	obj := r.New()
	if err := yaml.UnmarshalStrict(in, obj); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	r.Default(obj)
	r.PrepareForCreate(obj)
	if errs := r.Validate(obj); len(errs) > 0 {
		t.Fatalf("%s does not validate: %v", name, errs)
	}
	got, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	outPath := filepath.Join("testdata", name+".out.yaml")
	if workloadGoldenUpdate() {
		if err := os.WriteFile(outPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatalf("%v (run with SKIFF_UPDATE_GOLDEN=1 to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s: defaulted object differs from %s\n--- got\n%s--- want\n%s", name, outPath, got, want)
	}
}

// errorKeys renders errors as "<type> <field>", sorted, for comparison.
func errorKeys(errs field.ErrorList) []string {
	keys := []string{}
	for _, e := range errs {
		keys = append(keys, string(e.Type)+" "+e.Field)
	}
	sort.Strings(keys)
	return keys
}

func checkErrorKeys(t *testing.T, errs field.ErrorList, want []string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	sort.Strings(want)
	if got := errorKeys(errs); !reflect.DeepEqual(got, want) {
		t.Errorf("errors = %q, want %q\n%v", got, want, errs)
	}
}

// testPodSpec is a defaulted, valid spec with a volume and a port.
func testPodSpec() corev1.PodSpec {
	spec := corev1.PodSpec{
		Containers: []corev1.Container{{
			Name:         "app",
			Image:        "busybox:1.36",
			Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
		}},
		Volumes: []corev1.Volume{{Name: "data"}},
	}
	DefaultPodSpec(&spec)
	return spec
}

func TestDefaultPullPolicy(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"nginx":                       corev1.PullAlways,
		"nginx:latest":                corev1.PullAlways,
		"nginx:1.27":                  corev1.PullIfNotPresent,
		"registry.local:5000/nginx":   corev1.PullAlways,
		"registry.local:5000/nginx:1": corev1.PullIfNotPresent,
		"nginx@sha256:abcd":           corev1.PullIfNotPresent,
		"nginx:latest@sha256:abcd":    corev1.PullAlways,
		"":                            corev1.PullIfNotPresent,
	} {
		if got := defaultPullPolicy(image); got != want {
			t.Errorf("defaultPullPolicy(%q) = %s, want %s", image, got, want)
		}
	}
}

func TestDefaultPodSpecIsIdempotent(t *testing.T) {
	spec := testPodSpec()
	again := *spec.DeepCopy()
	DefaultPodSpec(&again)
	if !reflect.DeepEqual(spec, again) {
		t.Errorf("defaulting twice changed the spec")
	}
	if spec.ServiceAccountName != "" || spec.Tolerations != nil || spec.Priority != nil || spec.EnableServiceLinks != nil {
		t.Errorf("pod spec defaults include pod-only defaults: %+v", spec)
	}
}

func TestValidatePodSpec(t *testing.T) {
	ctr := "spec.containers[0]"
	cases := []struct {
		name   string
		mutate func(s *corev1.PodSpec)
		want   []string
	}{
		{"valid", func(s *corev1.PodSpec) {}, nil},
		{"no containers", func(s *corev1.PodSpec) { s.Containers = nil; s.Volumes = nil }, []string{"FieldValueRequired spec.containers"}},
		{"no image", func(s *corev1.PodSpec) { s.Containers[0].Image = "" }, []string{"FieldValueRequired " + ctr + ".image"}},
		{"bad container name", func(s *corev1.PodSpec) { s.Containers[0].Name = "App_1" }, []string{"FieldValueInvalid " + ctr + ".name"}},
		{"name shared with init container", func(s *corev1.PodSpec) {
			s.InitContainers = []corev1.Container{{Name: "app", Image: "busybox", ImagePullPolicy: "Always", TerminationMessagePolicy: "File"}}
		}, []string{"FieldValueDuplicate spec.initContainers[0].name"}},
		{"pull policy", func(s *corev1.PodSpec) { s.Containers[0].ImagePullPolicy = "Sometimes" }, []string{"FieldValueNotSupported " + ctr + ".imagePullPolicy"}},
		{"ports", func(s *corev1.PodSpec) {
			s.Containers[0].Ports = []corev1.ContainerPort{
				{Name: "http", ContainerPort: 0, Protocol: "TCP"},
				{Name: "http", ContainerPort: 70000, Protocol: "HTTP"},
				{Name: "Bad_Name", ContainerPort: 80, Protocol: "UDP"},
			}
		}, []string{
			"FieldValueRequired " + ctr + ".ports[0].containerPort",
			"FieldValueDuplicate " + ctr + ".ports[1].name",
			"FieldValueInvalid " + ctr + ".ports[1].containerPort",
			"FieldValueNotSupported " + ctr + ".ports[1].protocol",
			"FieldValueInvalid " + ctr + ".ports[2].name",
		}},
		{"env", func(s *corev1.PodSpec) {
			s.Containers[0].Env = []corev1.EnvVar{
				{Name: "A=B"},
				{Name: "X", Value: "1", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
				{Name: "Y", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.containers"}}},
				{Name: "Z", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k"}}},
				{Name: "L", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.labels['app']"}}},
			}
		}, []string{
			"FieldValueInvalid " + ctr + ".env[0].name",
			"FieldValueInvalid " + ctr + ".env[1].valueFrom",
			"FieldValueNotSupported " + ctr + ".env[2].valueFrom.fieldRef.fieldPath",
			"FieldValueRequired " + ctr + ".env[3].valueFrom.secretKeyRef.name",
		}},
		{"volumes", func(s *corev1.PodSpec) {
			s.Volumes = append(s.Volumes,
				corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				corev1.Volume{Name: "two", VolumeSource: corev1.VolumeSource{
					EmptyDir: &corev1.EmptyDirVolumeSource{}, Secret: &corev1.SecretVolumeSource{SecretName: "s"}}},
				corev1.Volume{Name: "Bad", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{DefaultMode: podspecRef(int32(0o1000))}}},
				corev1.Volume{Name: "none"},
			)
		}, []string{
			"FieldValueDuplicate spec.volumes[1].name",
			"FieldValueForbidden spec.volumes[2].secret",
			"FieldValueInvalid spec.volumes[3].name",
			"FieldValueRequired spec.volumes[3].configMap.name",
			"FieldValueInvalid spec.volumes[3].configMap.defaultMode",
			"FieldValueRequired spec.volumes[4]",
		}},
		{"volume mounts", func(s *corev1.PodSpec) {
			s.Containers[0].VolumeMounts = []corev1.VolumeMount{
				{Name: "nope", MountPath: "/a"},
				{Name: "data"},
				{Name: "data", MountPath: "/a", SubPath: "../etc"},
			}
		}, []string{
			"FieldValueNotFound " + ctr + ".volumeMounts[0].name",
			"FieldValueRequired " + ctr + ".volumeMounts[1].mountPath",
			"FieldValueInvalid " + ctr + ".volumeMounts[2].mountPath",
			"FieldValueInvalid " + ctr + ".volumeMounts[2].subPath",
		}},
		{"enums", func(s *corev1.PodSpec) { s.RestartPolicy = "Sometimes"; s.DNSPolicy = "Google" },
			[]string{"FieldValueNotSupported spec.restartPolicy", "FieldValueNotSupported spec.dnsPolicy"}},
		{"dns none without config", func(s *corev1.PodSpec) { s.DNSPolicy = corev1.DNSNone }, []string{"FieldValueRequired spec.dnsConfig"}},
		{"resources", func(s *corev1.PodSpec) {
			s.Containers[0].Resources = corev1.ResourceRequirements{
				Limits: corev1.ResourceList{"cpu": resource.MustParse("100m"), "gpu": resource.MustParse("1")},
				Requests: corev1.ResourceList{"cpu": resource.MustParse("200m"), "memory": resource.MustParse("-1"),
					"example.com/dongle": resource.MustParse("1")},
			}
		}, []string{
			"FieldValueInvalid " + ctr + ".resources.limits[gpu]",
			"FieldValueInvalid " + ctr + ".resources.requests[cpu]",
			"FieldValueInvalid " + ctr + ".resources.requests[memory]",
			"FieldValueRequired " + ctr + ".resources.limits[example.com/dongle]",
		}},
		{"numbers", func(s *corev1.PodSpec) {
			s.TerminationGracePeriodSeconds = podspecRef(int64(-1))
			s.ActiveDeadlineSeconds = podspecRef(int64(0))
		}, []string{"FieldValueInvalid spec.terminationGracePeriodSeconds", "FieldValueInvalid spec.activeDeadlineSeconds"}},
		{"node selector", func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"a b": "c"} }, []string{"FieldValueInvalid spec.nodeSelector"}},
		{"tolerations", func(s *corev1.PodSpec) {
			s.Tolerations = []corev1.Toleration{
				{Key: "k", Operator: "Maybe"},
				{Operator: corev1.TolerationOpEqual, Value: "v"},
				{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: podspecRef(int64(1))},
				{Key: "k", Operator: corev1.TolerationOpExists, Effect: "Sometimes"},
				{Operator: corev1.TolerationOpExists},
			}
		}, []string{
			"FieldValueNotSupported spec.tolerations[0].operator",
			"FieldValueInvalid spec.tolerations[1].operator",
			"FieldValueInvalid spec.tolerations[2].effect",
			"FieldValueNotSupported spec.tolerations[3].effect",
		}},
		{"host network ports", func(s *corev1.PodSpec) {
			s.HostNetwork = true
			s.Containers[0].Ports[0].HostPort = 80
		}, []string{"FieldValueInvalid " + ctr + ".ports[0].hostPort"}},
		{"host port used twice", func(s *corev1.PodSpec) {
			s.Containers[0].Ports[0].HostPort = 80
			second := s.Containers[0]
			second.Name = "other"
			s.Containers = append(s.Containers, second)
		}, []string{"FieldValueDuplicate spec.containers[1].ports[0].hostPort"}},
		{"probes", func(s *corev1.PodSpec) {
			s.Containers[0].LivenessProbe = &corev1.Probe{SuccessThreshold: 2}
			s.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet:   &corev1.HTTPGetAction{Port: intstr.FromString("nope_"), Scheme: "HTTP"},
				TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)},
			}}
		}, []string{
			"FieldValueRequired " + ctr + ".livenessProbe",
			"FieldValueInvalid " + ctr + ".livenessProbe.successThreshold",
			"FieldValueInvalid " + ctr + ".readinessProbe.httpGet.port",
			"FieldValueForbidden " + ctr + ".readinessProbe.tcpSocket",
		}},
		{"init containers", func(s *corev1.PodSpec) {
			never := corev1.ContainerRestartPolicyNever
			s.InitContainers = []corev1.Container{
				{Name: "init", Image: "busybox", ImagePullPolicy: "Always", TerminationMessagePolicy: "File", RestartPolicy: &never,
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}},
			}
		}, []string{
			"FieldValueNotSupported spec.initContainers[0].restartPolicy",
			"FieldValueForbidden spec.initContainers[0].readinessProbe",
		}},
		{"sidecar may have probes", func(s *corev1.PodSpec) {
			always := corev1.ContainerRestartPolicyAlways
			s.InitContainers = []corev1.Container{
				{Name: "proxy", Image: "busybox", ImagePullPolicy: "Always", TerminationMessagePolicy: "File", RestartPolicy: &always,
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}},
						SuccessThreshold: 1}},
			}
		}, nil},
		{"env sources", func(s *corev1.PodSpec) {
			s.Containers[0].Env = []corev1.EnvVar{
				{Name: "A", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.gpu"}}},
				{Name: "B", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
				{Name: "C", ValueFrom: &corev1.EnvVarSource{}},
			}
			s.Containers[0].EnvFrom = []corev1.EnvFromSource{
				{},
				{Prefix: "A=", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}},
					SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}},
			}
		}, []string{
			"FieldValueNotSupported " + ctr + ".env[0].valueFrom.resourceFieldRef.resource",
			"FieldValueInvalid " + ctr + ".env[2].valueFrom",
			"FieldValueInvalid " + ctr + ".envFrom[0]",
			"FieldValueInvalid " + ctr + ".envFrom[1].prefix",
			"FieldValueInvalid " + ctr + ".envFrom[1]",
		}},
		{"volume sources", func(s *corev1.PodSpec) {
			s.Volumes = append(s.Volumes,
				corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/a/../b"}}},
				corev1.Volume{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
					SecretName: "s", Items: []corev1.KeyToPath{{Path: "/abs"}}}}},
				corev1.Volume{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: podspecRef(int64(60))}},
					{ConfigMap: &corev1.ConfigMapProjection{Items: []corev1.KeyToPath{{Key: "k", Path: "token"}}}},
					{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "x"}}}},
				}}}},
				corev1.Volume{Name: "nfs", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "s", Path: "export"}}},
			)
		}, []string{
			"FieldValueInvalid spec.volumes[1].hostPath.path",
			"FieldValueRequired spec.volumes[2].secret.items[0].key",
			"FieldValueInvalid spec.volumes[2].secret.items[0].path",
			"FieldValueInvalid spec.volumes[3].projected.sources[0].serviceAccountToken.expirationSeconds",
			"FieldValueInvalid spec.volumes[3].projected.sources[1].configMap.items[0].path",
			"FieldValueRequired spec.volumes[3].projected.sources[2].downwardAPI.items[0]",
			"FieldValueInvalid spec.volumes[4].nfs.path",
		}},
		{"dns config", func(s *corev1.PodSpec) {
			s.DNSPolicy = corev1.DNSNone
			s.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1", "8.8.8.8", "9.9.9.9", "dns"},
				Options: []corev1.PodDNSConfigOption{{}}}
		}, []string{
			"FieldValueInvalid spec.dnsConfig.nameservers",
			"FieldValueInvalid spec.dnsConfig.nameservers[3]",
			"FieldValueRequired spec.dnsConfig.options[0].name",
		}},
		{"host aliases", func(s *corev1.PodSpec) {
			s.HostAliases = []corev1.HostAlias{{IP: "x", Hostnames: []string{"Bad_Host"}}}
		}, []string{"FieldValueInvalid spec.hostAliases[0].ip", "FieldValueInvalid spec.hostAliases[0].hostnames[0]"}},
		{"lifecycle", func(s *corev1.PodSpec) {
			s.Containers[0].Lifecycle = &corev1.Lifecycle{
				PostStart: &corev1.LifecycleHandler{},
				PreStop:   &corev1.LifecycleHandler{Exec: &corev1.ExecAction{}},
			}
			s.Containers[0].StartupProbe = &corev1.Probe{SuccessThreshold: 1, ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80), Scheme: "FTP"}}}
		}, []string{
			"FieldValueRequired " + ctr + ".lifecycle.postStart",
			"FieldValueRequired " + ctr + ".lifecycle.preStop.exec.command",
			"FieldValueNotSupported " + ctr + ".startupProbe.httpGet.scheme",
		}},
		{"mount propagation", func(s *corev1.PodSpec) {
			bidi := corev1.MountPropagationBidirectional
			s.Containers[0].VolumeMounts[0].MountPropagation = &bidi
		}, []string{"FieldValueForbidden " + ctr + ".volumeMounts[0].mountPropagation"}},
		{"scheduling gates", func(s *corev1.PodSpec) {
			s.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/a"}, {Name: "example.com/a"}, {Name: "bad gate"}}
		}, []string{"FieldValueDuplicate spec.schedulingGates[1].name", "FieldValueInvalid spec.schedulingGates[2].name"}},
		{"names of references", func(s *corev1.PodSpec) {
			s.ServiceAccountName = "Not Valid"
			s.NodeName = "node_1"
			s.Hostname = "a.b"
		}, []string{"FieldValueInvalid spec.serviceAccountName", "FieldValueInvalid spec.nodeName", "FieldValueInvalid spec.hostname"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := testPodSpec()
			tc.mutate(&spec)
			checkErrorKeys(t, ValidatePodSpec(&spec, field.NewPath("spec")), tc.want)
		})
	}
}

func TestValidatePodTemplateSpec(t *testing.T) {
	tmpl := corev1.PodTemplateSpec{Spec: testPodSpec()}
	tmpl.Labels = map[string]string{"bad key!": "x"}
	tmpl.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debug", Image: "busybox", ImagePullPolicy: "Always", TerminationMessagePolicy: "File"}}}
	errs := ValidatePodTemplateSpec(&tmpl, field.NewPath("spec", "template"))
	checkErrorKeys(t, errs, []string{
		"FieldValueInvalid spec.template.metadata.labels",
		"FieldValueForbidden spec.template.spec.ephemeralContainers",
	})
	for _, e := range errs {
		if e.Field == "spec.template.metadata.labels" && !strings.Contains(e.Detail, "name part") {
			t.Errorf("label error detail = %q", e.Detail)
		}
	}
}
