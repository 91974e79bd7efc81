package jsonenc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/randfill"
)

// same requires Marshal(v) to give encoding/json's bytes, or its error.
func same(t *testing.T, what string, v any) {
	t.Helper()
	want, werr := json.Marshal(v)
	got, gerr := Marshal(v)
	if (werr != nil) != (gerr != nil) || werr != nil && werr.Error() != gerr.Error() {
		t.Fatalf("%s: error %v, encoding/json's %v", what, gerr, werr)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		lo := max(0, i-80)
		t.Fatalf("%s: differs from encoding/json at byte %d:\n ours: %s\n json: %s", what, i,
			got[lo:min(len(got), i+80)], want[lo:min(len(want), i+80)])
	}
}

// awkward are strings that exercise every escape rule.
var awkward = []string{
	"", "plain", `quote" back\slash`, "<script>&amp;</script>", "\b\f\n\r\t\x00\x01\x1f\x7f",
	"caf\u00e9 \u65e5\u672c \U0001F600", "\u2028line\u2029para", "bad\xffutf8\xc3", "\xe2\x80", "\xed\xa0\x80",
	"tab\there", "k:{\"name\":\"x\"}", "\u2027\u202a",
}

func fillString(s *string, c randfill.Continue) {
	switch c.Intn(4) {
	case 0:
		*s = awkward[c.Intn(len(awkward))]
	case 1:
		b := make([]byte, c.Intn(12))
		for i := range b {
			b[i] = byte(c.Intn(256))
		}
		*s = string(b)
	default:
		*s = c.String(8)
	}
}

// fieldsJSON are managedFields values: as the field manager writes them,
// and ones encoding/json must compact, escape or reject.
var fieldsJSON = []string{
	`{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{}}}}}`,
	`{"f:status":{"f:conditions":{"k:{\"type\":\"Ready\"}":{".":{},"f:status":{}}}}}`,
	`{}`, `[]`, `{"a":[1,-2.5e+3,0.1,true,false,null,"s\u00e9\n"]}`,
	`{ "spaced" : {} }`, "{\"html\":\"<&>\"}", "{\"sep\":\"\u2028\"}", `{"bad":}`, `{"a":1}x`, `{"a":01}`,
	`{"a":"\x01"}`, `"`, `{"a":"\q"}`, `{"a":1.}`, `{"a":-}`, `nul`, `{"a":1,}`, `[1,]`,
	`{"a":"\u00zz"}`, strings.Repeat("[", 1200) + strings.Repeat("]", 1200),
}

func filler(seed int64) *randfill.Filler {
	return randfill.NewWithSeed(seed).NilChance(0.2).NumElements(0, 3).MaxDepth(12).Funcs(
		fillString,
		func(q *resource.Quantity, c randfill.Continue) {
			switch c.Intn(3) {
			case 0:
				*q = *resource.NewMilliQuantity(c.Int63n(1<<40), resource.DecimalSI)
			case 1:
				*q = *resource.NewQuantity(c.Int63n(1<<40), resource.BinarySI)
			default:
				*q = resource.MustParse([]string{"100m", "1Gi", "2.5", "1e3", "0"}[c.Intn(5)])
			}
		},
		func(v *intstr.IntOrString, c randfill.Continue) {
			if c.Bool() {
				*v = intstr.FromInt32(c.Int31())
			} else {
				var s string
				fillString(&s, c)
				*v = intstr.FromString(s)
			}
		},
		func(v *metav1.Time, c randfill.Continue) {
			if c.Intn(5) == 0 {
				*v = metav1.Time{}
				return
			}
			*v = metav1.Unix(c.Int63n(4e9), 0)
		},
		func(v *metav1.MicroTime, c randfill.Continue) {
			if c.Intn(5) == 0 {
				*v = metav1.MicroTime{}
				return
			}
			*v = metav1.NewMicroTime(time.Unix(c.Int63n(4e9), c.Int63n(1e9)))
		},
		func(v *metav1.Duration, c randfill.Continue) { v.Duration = time.Duration(c.Int63()) },
		func(v *metav1.FieldsV1, c randfill.Continue) { v.Raw = []byte(fieldsJSON[c.Intn(len(fieldsJSON))]) },
		func(v *runtime.RawExtension, c randfill.Continue) {
			if c.Bool() {
				v.Raw = []byte(fieldsJSON[c.Intn(5)])
			}
		},
		func(v *runtime.Object, c randfill.Continue) {},
		func(v *any, c randfill.Continue) {
			var s string
			fillString(&s, c)
			*v = []any{nil, s, int64(c.Int31()), 2.5, true, map[string]any{s: []any{s, 1}}}[c.Intn(6)]
		},
		func(v *float64, c randfill.Continue) {
			*v = []float64{0, 1.5, -3e-7, 1e21, 123456789, math.SmallestNonzeroFloat64}[c.Intn(6)]
		},
	)
}

// TestSameBytesAsEncodingJSON encodes every built-in API type, filled at
// random many times over, through both encoders: by pointer (fields
// addressable, as the API server encodes its objects) and by value.
func TestSameBytesAsEncodingJSON(t *testing.T) {
	types := map[reflect.Type]string{}
	for gvk, typ := range scheme.Scheme.AllKnownTypes() {
		types[typ] = gvk.String()
	}
	for _, v := range []any{&metav1.Table{}, &metav1.PartialObjectMetadata{}, &metav1.PartialObjectMetadataList{},
		&metav1.Status{}, &metav1.WatchEvent{}, &metav1.APIGroupList{}, &metav1.APIResourceList{}} {
		types[reflect.TypeOf(v).Elem()] = reflect.TypeOf(v).Elem().String()
	}
	rounds := 12
	if testing.Short() {
		rounds = 3
	}
	n := 0
	for typ, name := range types {
		for i := range rounds {
			obj := reflect.New(typ)
			filler(int64(i)*7919 + int64(len(name))).Fill(obj.Interface())
			same(t, fmt.Sprintf("%s (round %d)", name, i), obj.Interface())
			same(t, fmt.Sprintf("%s by value (round %d)", name, i), obj.Elem().Interface())
			n++
		}
	}
	if len(types) < 300 {
		t.Fatalf("only %d types in the scheme", len(types))
	}
	t.Logf("%d types, %d objects", len(types), n)
}

func TestStrings(t *testing.T) {
	type s struct {
		S string            `json:"s"`
		M map[string]string `json:"m"`
		B []byte            `json:"b"`
	}
	r := rand.New(rand.NewSource(1))
	inputs := append([]string{}, awkward...)
	for range 2000 {
		b := make([]byte, r.Intn(20))
		for i := range b {
			b[i] = byte(r.Intn(256))
		}
		inputs = append(inputs, string(b))
	}
	for c := rune(0); c < 0x3000; c++ {
		inputs = append(inputs, "x"+string(c)+"y")
	}
	for _, in := range inputs {
		same(t, fmt.Sprintf("%q", in), s{S: in, M: map[string]string{in: in, "a": in}, B: []byte(in)})
	}
}

type ptrMarshaler struct{ N int }

func (p *ptrMarshaler) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf(` { "n" : %d } `, p.N)), nil
}

type textKey string

func (k textKey) MarshalText() ([]byte, error) { return []byte("k-" + string(k)), nil }

type intKeyed map[int]string

type zeroer struct{ A int }

func (z zeroer) IsZero() bool { return z.A < 0 }

type ptrZeroer struct{ A int }

func (z *ptrZeroer) IsZero() bool { return z == nil || z.A == 7 }

type failing struct{}

func (failing) MarshalJSON() ([]byte, error) { return nil, fmt.Errorf("boom") }

type Inner struct {
	X int    `json:"x"`
	Y string `json:"y,omitempty"`
}

type node struct {
	Name     string  `json:"name"`
	Children []*node `json:"children,omitempty"`
	Next     *node   `json:"next,omitempty"`
}

type shapes struct {
	Inner
	*Ptr      `json:",omitempty"`
	Named     Inner          `json:"named"`
	PM        ptrMarshaler   `json:"pm"`
	PMs       []ptrMarshaler `json:"pms"`
	PMMap     map[string]ptrMarshaler
	Text      textKey                    `json:"text"`
	TextMap   map[textKey]int            `json:"textMap"`
	IntMap    intKeyed                   `json:"intMap"`
	Iface     any                        `json:"iface"`
	Ifaces    []any                      `json:"ifaces"`
	F32       float32                    `json:"f32"`
	F64       float64                    `json:"f64,omitempty"`
	Quoted    int                        `json:"quoted,string"`
	Arr       [3]byte                    `json:"arr"`
	Bytes     []byte                     `json:"bytes,omitempty"`
	Num       json.Number                `json:"num,omitempty"`
	Raw       json.RawMessage            `json:"raw,omitempty"`
	Z         zeroer                     `json:"z,omitzero"`
	PZ        ptrZeroer                  `json:"pz,omitzero"`
	PZp       *ptrZeroer                 `json:"pzp,omitzero"`
	ZI        interface{ IsZero() bool } `json:"zi,omitzero"`
	Plain     struct{ A, B int }         `json:"plain,omitzero"`
	Skip      int                        `json:"-"`
	Dash      int                        `json:"-,"`
	unexp     int
	Weird     int  `json:"wéird<tag>"`
	BadTag    int  `json:"a\"b"`
	Tree      node `json:"tree"`
	OmitPtr   *int `json:"omitPtr,omitempty"`
	Untagged  uint8
	EmptyMap  map[string]int `json:"emptyMap,omitempty"`
	NilMap    map[string]int `json:"nilMap"`
	NilSlice  []string       `json:"nilSlice"`
	Times     []metav1.Time  `json:"times"`
	TimeMap   map[string]metav1.Time
	QtyMap    map[string]resource.Quantity
	FieldsPtr *metav1.FieldsV1 `json:"fieldsPtr"`
}

type Ptr struct {
	P int `json:"p"`
}

type conflict struct {
	Inner
	X int `json:"x"`
}

type twice struct {
	A struct{ Inner }
	Inner
	In2 struct{ Inner } `json:"in2"`
}

type unexportedEmbed struct {
	inner
	B int
}

type inner struct{ A int }

// TestShapes covers what API types rarely have and encoding/json still
// defines: embedding, conflicts, pointer-receiver marshalers with and
// without an address, text keys, interfaces, floats, omitzero's IsZero
// methods, recursion and cycles, and errors.
func TestShapes(t *testing.T) {
	i5 := 5
	s := shapes{
		Inner: Inner{X: 1}, Ptr: &Ptr{P: 2}, Named: Inner{X: 3, Y: "<y>"}, PM: ptrMarshaler{4},
		PMs: []ptrMarshaler{{1}, {2}}, PMMap: map[string]ptrMarshaler{"b": {2}, "a": {1}},
		Text: "t", TextMap: map[textKey]int{"z": 1, "a": 2}, IntMap: intKeyed{3: "c", -1: "a", 20: "b"},
		Iface: map[string]any{"x": []any{1, "two", 3.5, nil, true}}, Ifaces: []any{ptrMarshaler{9}, &ptrMarshaler{8}, Inner{}},
		F32: 0.1, F64: 1e-7, Quoted: 42, Arr: [3]byte{1, 2, 3}, Bytes: []byte("hi"), Num: "12.5", Raw: json.RawMessage(` {"r": 1} `),
		Z: zeroer{-1}, PZ: ptrZeroer{7}, ZI: zeroer{1}, Weird: 1, BadTag: 2,
		Tree:    node{Name: "root", Children: []*node{{Name: "a"}, {Name: "b", Next: &node{Name: "c"}}}},
		OmitPtr: &i5, NilMap: nil, Times: []metav1.Time{{}, metav1.Unix(1, 0)},
		TimeMap: map[string]metav1.Time{"a": metav1.Unix(2, 0), "z": {}}, QtyMap: map[string]resource.Quantity{"cpu": resource.MustParse("1500m")},
		FieldsPtr: &metav1.FieldsV1{Raw: []byte(`{"f:a":{}}`)},
	}
	same(t, "a running pod", benchPod())
	same(t, "shapes", &s)
	same(t, "shapes by value", s)
	s.Ptr, s.Z, s.PZ, s.ZI, s.PZp = nil, zeroer{}, ptrZeroer{}, nil, &ptrZeroer{A: 7}
	same(t, "shapes, other branches", &s)
	same(t, "conflict", &conflict{Inner: Inner{X: 1}, X: 2})
	same(t, "twice", &twice{})
	same(t, "unexported embedded", &unexportedEmbed{inner: inner{A: 1}, B: 2})
	same(t, "nil", nil)
	same(t, "nil pointer", (*shapes)(nil))
	same(t, "NaN", struct{ F float64 }{math.NaN()})
	same(t, "failing marshaler", struct{ F failing }{})
	same(t, "bad intstr", intstr.IntOrString{Type: 9})
	same(t, "channel", struct{ C chan int }{})
	cyc := &node{Name: "loop"}
	cyc.Next = cyc
	same(t, "cycle", cyc)
	deep := &node{Name: "0"}
	for i := range 1500 {
		deep = &node{Name: fmt.Sprint(i), Next: deep}
	}
	same(t, "deep but finite", deep)
	var m map[string]any = map[string]any{}
	m["self"] = m
	same(t, "map cycle", m)
}

// TestConcurrentFirstUse plans a recursive type from many goroutines at
// once (run with -race).
func TestConcurrentFirstUse(t *testing.T) {
	type rec struct {
		A []rec           `json:"a"`
		B map[string]*rec `json:"b"`
	}
	v := &rec{A: []rec{{B: map[string]*rec{"x": {}}}}}
	want, _ := json.Marshal(v)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got, err := Marshal(v)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("got %s, %v; want %s", got, err, want)
			}
		})
	}
	wg.Wait()
}

// TestCompactAndSafe holds the checker to its one promise: when it says
// yes, encoding/json would have left the bytes as they are.
func TestCompactAndSafe(t *testing.T) {
	accepted := 0
	check := func(in []byte) {
		if !compactAndSafe(in) {
			return
		}
		accepted++
		if !json.Valid(in) {
			t.Fatalf("accepted invalid JSON %q", in)
		}
		var c, h bytes.Buffer
		_ = json.Compact(&c, in)
		json.HTMLEscape(&h, c.Bytes())
		if !bytes.Equal(h.Bytes(), in) {
			t.Fatalf("accepted %q, which encoding/json writes as %q", in, h.Bytes())
		}
	}
	for _, in := range fieldsJSON {
		check([]byte(in))
	}
	r := rand.New(rand.NewSource(2))
	alphabet := []byte(`{}[]:,"\\ubfnrt0123456789.-+eE truefalsenull<>&` + "\x00\x1f\xe2\x80\xa8\xff")
	for range 200000 {
		b := make([]byte, r.Intn(24))
		for i := range b {
			b[i] = alphabet[r.Intn(len(alphabet))]
		}
		check(b)
	}
	// What encoding/json writes itself, it must accept (else the fast
	// path would never be taken).
	for _, v := range []any{map[string]any{"f:a": map[string]any{".": map[string]any{}}}, []any{1, -2.5, "x", nil, true}, "é"} {
		data, _ := json.Marshal(v)
		if !compactAndSafe(data) {
			t.Fatalf("rejected %s", data)
		}
	}
	if accepted < 1000 {
		t.Fatalf("accepted only %d inputs: the check is not exercised", accepted)
	}
}

func FuzzCompactAndSafe(f *testing.F) {
	for _, in := range fieldsJSON {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !compactAndSafe(in) {
			return
		}
		var c, h bytes.Buffer
		if err := json.Compact(&c, in); err != nil {
			t.Fatalf("accepted invalid %q: %v", in, err)
		}
		json.HTMLEscape(&h, c.Bytes())
		if !bytes.Equal(h.Bytes(), in) {
			t.Fatalf("accepted %q, which encoding/json writes as %q", in, h.Bytes())
		}
	})
}

// BenchmarkMarshal compares the two encoders on a pod as a kubelet
// leaves it running (labels, an owner, resources, managedFields of the
// controller and the kubelet, status with conditions), within one run.
func BenchmarkMarshal(b *testing.B) {
	pod := benchPod()
	for _, enc := range []struct {
		name string
		fn   func(any) ([]byte, error)
	}{{"encoding-json", json.Marshal}, {"jsonenc", Marshal}} {
		b.Run(enc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := enc.fn(pod); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchPod() *corev1.Pod {
	ts := metav1.Unix(1_790_000_000, 0)
	fields := func(s string) *metav1.FieldsV1 { return &metav1.FieldsV1{Raw: []byte(s)} }
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f7c9b4-x2x9k", GenerateName: "web-5d8f7c9b4-", Namespace: "default",
			UID: "8c1d3f2e-0000-4000-8000-000000000001", ResourceVersion: "123456", CreationTimestamp: ts,
			Labels: map[string]string{"app": "web", "pod-template-hash": "5d8f7c9b4"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-5d8f7c9b4",
				UID: "1111-2222", Controller: ptr(true), BlockOwnerDeletion: ptr(true)}},
			ManagedFields: []metav1.ManagedFieldsEntry{
				{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &ts, FieldsType: "FieldsV1",
					FieldsV1: fields(`{"f:metadata":{"f:generateName":{},"f:labels":{".":{},"f:app":{},"f:pod-template-hash":{}},"f:ownerReferences":{".":{},"k:{\"uid\":\"1111-2222\"}":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:resources":{".":{},"f:requests":{".":{},"f:cpu":{},"f:memory":{}}},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:enableServiceLinks":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}}`)},
				{Manager: "kubelet", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &ts, FieldsType: "FieldsV1", Subresource: "status",
					FieldsV1: fields(`{"f:status":{"f:conditions":{"k:{\"type\":\"ContainersReady\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Initialized\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Ready\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}}},"f:containerStatuses":{},"f:hostIP":{},"f:phase":{},"f:podIP":{},"f:podIPs":{".":{},"k:{\"ip\":\"10.42.0.7\"}":{".":{},"f:ip":{}}},"f:startTime":{}}}`)},
			}},
		Spec: corev1.PodSpec{NodeName: "node-1", RestartPolicy: corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst,
			TerminationGracePeriodSeconds: ptr(int64(30)), SchedulerName: "default-scheduler", EnableServiceLinks: ptr(true),
			SecurityContext: &corev1.PodSecurityContext{},
			Tolerations: []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists,
				Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))}},
			Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10", ImagePullPolicy: corev1.PullIfNotPresent,
				TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("10Mi")}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, HostIP: "172.30.0.2", PodIP: "10.42.0.7", PodIPs: []corev1.PodIP{{IP: "10.42.0.7"}},
			StartTime: &ts, QOSClass: corev1.PodQOSBurstable,
			Conditions: []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: ts},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ts},
				{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: ts}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Ready: true, Started: ptr(true), Image: "registry.k8s.io/pause:3.10",
				ImageID:     "sha256:873ed75102791e5b0b8a7fcd41606c92fcec98d56d05ead4ac5131650004c136",
				ContainerID: "containerd://1234567890abcdef", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ts}}}}},
	}
}

func ptr[T any](v T) *T { return &v }

// BenchmarkFieldsV1Check is the check of one managedFields entry, against
// the scan encoding/json makes of it (json.Compact).
func BenchmarkFieldsV1Check(b *testing.B) {
	raw := benchPod().ManagedFields[0].FieldsV1.Raw
	b.Run("jsonenc", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if !compactAndSafe(raw) {
				b.Fatal("rejected")
			}
		}
	})
	b.Run("json.Compact", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			_ = json.Compact(&buf, raw)
		}
	})
}
