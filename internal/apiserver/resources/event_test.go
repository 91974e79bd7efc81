package resources

import (
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

var eventTime = metav1.NewMicroTime(time.Date(2026, 11, 26, 22, 0, 0, 123456000, time.UTC))

// testCoreEvent is an old-style event, as client-go's record package
// writes them.
func testCoreEvent() *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web-0.17a8b", Namespace: "default", ResourceVersion: "8"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-0", UID: "u1", APIVersion: "v1", FieldPath: "spec.containers{web}"},
		Reason:         "Pulled",
		Message:        "Successfully pulled image",
		Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
		FirstTimestamp: metav1.NewTime(eventTime.Time),
		LastTimestamp:  metav1.NewTime(eventTime.Time),
		Count:          1,
		Type:           corev1.EventTypeNormal,
	}
}

// testEventV1 is a new-style event, as client-go's events package writes
// them.
func testEventV1() *eventsv1.Event {
	return &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: "web-0.17a8c", Namespace: "default", ResourceVersion: "9"},
		EventTime:           eventTime,
		ReportingController: "skiff.dev/scheduler",
		ReportingInstance:   "scheduler-node-1",
		Action:              "Binding",
		Reason:              "Scheduled",
		Regarding:           corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-0", UID: "u1", APIVersion: "v1"},
		Note:                "Successfully assigned default/web-0 to node-1",
		Type:                corev1.EventTypeNormal,
	}
}

func TestEventDescriptors(t *testing.T) {
	core, v1 := Events(), EventsV1()
	if core.GVK() != corev1.SchemeGroupVersion.WithKind("Event") || !core.Namespaced || !reflect.DeepEqual(core.ShortNames, []string{"ev"}) {
		t.Errorf("core descriptor = %+v", core)
	}
	if v1.GVK() != eventsv1.SchemeGroupVersion.WithKind("Event") || !v1.Namespaced || v1.Storage == nil ||
		v1.Storage.Resource != "events" || v1.Storage.Group != "" {
		t.Errorf("events.k8s.io descriptor = %+v", v1)
	}
	if _, ok := v1.Storage.New().(*corev1.Event); !ok {
		t.Errorf("stored kind = %T", v1.Storage.New())
	}
	if _, ok := v1.Storage.NewList().(*corev1.EventList); !ok {
		t.Errorf("stored list kind = %T", v1.Storage.NewList())
	}
}

func TestCoreEventFields(t *testing.T) {
	want := fields.Set{
		"involvedObject.kind": "Pod", "involvedObject.namespace": "default", "involvedObject.name": "web-0",
		"involvedObject.uid": "u1", "involvedObject.apiVersion": "v1", "involvedObject.resourceVersion": "",
		"involvedObject.fieldPath": "spec.containers{web}", "reason": "Pulled", "reportingComponent": "",
		"source": "kubelet", "type": "Normal",
	}
	if got := Events().Fields(testCoreEvent()); !reflect.DeepEqual(got, want) {
		t.Errorf("fields = %v\nwant %v", got, want)
	}
	// A new-style event's source is its reporting controller.
	stored := eventV1ToCore(testEventV1())
	if got := Events().Fields(stored)["source"]; got != "skiff.dev/scheduler" {
		t.Errorf("source = %q", got)
	}
	if got := len(Events().Fields(&corev1.Event{})); got != len(want) {
		t.Errorf("an empty event has %d fields, want %d", got, len(want))
	}
}

func TestValidateCoreEvent(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(e *corev1.Event)
		want   []string
	}{
		{"valid", func(*corev1.Event) {}, nil},
		{"name of a path segment", func(e *corev1.Event) { e.Name = "system:node:n1.17a8b" }, nil},
		{"name with a slash", func(e *corev1.Event) { e.Name = "a/b" }, []string{"FieldValueInvalid metadata.name"}},
		{"object in another namespace", func(e *corev1.Event) { e.InvolvedObject.Namespace = "kube-system" },
			[]string{"FieldValueInvalid involvedObject.namespace"}},
		{"cluster-scoped object in default", func(e *corev1.Event) { e.InvolvedObject = corev1.ObjectReference{Kind: "Node", Name: "node-1"} }, nil},
		{"cluster-scoped object elsewhere", func(e *corev1.Event) {
			e.Namespace, e.InvolvedObject = "team", corev1.ObjectReference{Kind: "Node", Name: "node-1"}
		}, []string{"FieldValueInvalid involvedObject.namespace"}},
		{"long message of an old-style event", func(e *corev1.Event) { e.Message = strings.Repeat("x", 4096) }, nil},
		{"new-style event about an object elsewhere", func(e *corev1.Event) {
			e.EventTime, e.ReportingController, e.ReportingInstance, e.Action = eventTime, "kubelet", "node-1", "Pulling"
			e.InvolvedObject.Namespace = "kube-system"
		}, nil},
		{"new-style event missing reporter", func(e *corev1.Event) { e.EventTime = eventTime },
			[]string{"FieldValueRequired reportingComponent", "FieldValueRequired reportingInstance", "FieldValueRequired action"}},
		{"new-style event sizes", func(e *corev1.Event) {
			e.EventTime, e.ReportingController, e.ReportingInstance, e.Action = eventTime, "kubelet", "node-1", "Pulling"
			e.Reason, e.Message = strings.Repeat("r", 129), strings.Repeat("m", 1025)
		}, []string{"FieldValueTooLong reason", "FieldValueTooLong message"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := testCoreEvent()
			tc.mutate(e)
			expectFieldErrors(t, Events().Validate(e), tc.want...)
		})
	}
	// Old-style events are updated in place (count, lastTimestamp).
	old := testCoreEvent()
	e := old.DeepCopy()
	e.Count, e.LastTimestamp = 2, metav1.NewTime(eventTime.Add(time.Minute))
	expectFieldErrors(t, Events().ValidateUpdate(e, old))
}

func TestValidateEventV1(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(e *eventsv1.Event)
		want   []string
	}{
		{"valid", func(*eventsv1.Event) {}, nil},
		{"no eventTime", func(e *eventsv1.Event) { e.EventTime = metav1.MicroTime{} },
			[]string{"FieldValueRequired eventTime"}},
		{"no reporter", func(e *eventsv1.Event) { e.ReportingController, e.ReportingInstance = "", "" },
			[]string{"FieldValueRequired reportingController", "FieldValueRequired reportingInstance"}},
		{"reporter not a qualified name", func(e *eventsv1.Event) { e.ReportingController = "a b" },
			[]string{"FieldValueInvalid reportingController"}},
		{"no action", func(e *eventsv1.Event) { e.Action = "" }, []string{"FieldValueRequired action"}},
		{"no reason", func(e *eventsv1.Event) { e.Reason = "" }, []string{"FieldValueRequired reason"}},
		{"note over 1 KiB", func(e *eventsv1.Event) { e.Note = strings.Repeat("n", 1025) }, []string{"FieldValueTooLong note"}},
		{"note of 1 KiB", func(e *eventsv1.Event) { e.Note = strings.Repeat("n", 1024) }, nil},
		{"type", func(e *eventsv1.Event) { e.Type = "Info" }, []string{"FieldValueInvalid type"}},
		{"name not a DNS subdomain", func(e *eventsv1.Event) { e.Name = "system:node:n1.17a8b" }, []string{"FieldValueInvalid metadata.name"}},
		{"node event in kube-system", func(e *eventsv1.Event) {
			e.Namespace, e.Regarding = "kube-system", corev1.ObjectReference{Kind: "Node", Name: "node-1"}
		}, nil},
		{"node event elsewhere", func(e *eventsv1.Event) {
			e.Namespace, e.Regarding = "team", corev1.ObjectReference{Kind: "Node", Name: "node-1"}
		}, []string{"FieldValueInvalid regarding.namespace"}},
		{"deprecated fields", func(e *eventsv1.Event) {
			e.DeprecatedCount, e.DeprecatedSource = 3, corev1.EventSource{Component: "kubelet"}
			e.DeprecatedFirstTimestamp = metav1.NewTime(eventTime.Time)
		}, []string{"FieldValueInvalid deprecatedCount", "FieldValueInvalid deprecatedSource", "FieldValueInvalid deprecatedFirstTimestamp"}},
		{"series", func(e *eventsv1.Event) { e.Series = &eventsv1.EventSeries{Count: 1} },
			[]string{"FieldValueInvalid series.count", "FieldValueRequired series.lastObservedTime"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := testEventV1()
			tc.mutate(e)
			expectFieldErrors(t, EventsV1().Validate(e), tc.want...)
		})
	}
}

func TestEventV1Update(t *testing.T) {
	r := EventsV1()
	old := testEventV1()
	e := old.DeepCopy()
	e.Series = &eventsv1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(eventTime.Add(time.Minute))}
	e.EventTime = metav1.NewMicroTime(eventTime.Add(300 * time.Nanosecond)) // below serialized precision
	expectFieldErrors(t, r.ValidateUpdate(e, old))

	e.Note, e.Action = "changed", "Other"
	e.EventTime = metav1.NewMicroTime(eventTime.Add(time.Second))
	expectFieldErrors(t, r.ValidateUpdate(e, old), "FieldValueInvalid note", "FieldValueInvalid action", "FieldValueInvalid eventTime")
}

func TestEventConversionRoundTrip(t *testing.T) {
	full := testEventV1()
	full.Labels = map[string]string{"a": "b"}
	full.Series = &eventsv1.EventSeries{Count: 4, LastObservedTime: metav1.NewMicroTime(eventTime.Add(time.Minute))}
	full.Related = &corev1.ObjectReference{Kind: "Node", Name: "node-1"}
	full.DeprecatedSource = corev1.EventSource{Component: "scheduler", Host: "h"}
	full.DeprecatedFirstTimestamp = metav1.NewTime(eventTime.Time)
	full.DeprecatedLastTimestamp = metav1.NewTime(eventTime.Add(time.Hour))
	full.DeprecatedCount = 7

	conv := EventsV1().Storage
	stored, err := conv.ToStorage(full)
	if err != nil {
		t.Fatal(err)
	}
	core := stored.(*corev1.Event)
	want := &corev1.Event{
		TypeMeta:            metav1.TypeMeta{APIVersion: "v1", Kind: "Event"},
		ObjectMeta:          full.ObjectMeta,
		InvolvedObject:      full.Regarding,
		Reason:              "Scheduled",
		Message:             full.Note,
		Source:              full.DeprecatedSource,
		FirstTimestamp:      full.DeprecatedFirstTimestamp,
		LastTimestamp:       full.DeprecatedLastTimestamp,
		Count:               7,
		Type:                "Normal",
		EventTime:           eventTime,
		Series:              &corev1.EventSeries{Count: 4, LastObservedTime: full.Series.LastObservedTime},
		Action:              "Binding",
		Related:             full.Related,
		ReportingController: "skiff.dev/scheduler",
		ReportingInstance:   "scheduler-node-1",
	}
	if !reflect.DeepEqual(core, want) {
		t.Errorf("stored = %+v\nwant %+v", core, want)
	}
	core.Labels["a"] = "changed"
	core.Related.Name = "changed"
	if full.Labels["a"] != "b" || full.Related.Name != "node-1" {
		t.Error("conversion shares memory with its input")
	}

	back, err := conv.FromStorage(eventV1ToCore(full))
	if err != nil {
		t.Fatal(err)
	}
	full.TypeMeta = metav1.TypeMeta{APIVersion: "events.k8s.io/v1", Kind: "Event"}
	if !reflect.DeepEqual(back, full) {
		t.Errorf("round trip = %+v\nwant %+v", back, full)
	}

	// core -> events.k8s.io -> core keeps every field too.
	old := testCoreEvent()
	old.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Event"}
	v1, _ := conv.FromStorage(old)
	again, _ := conv.ToStorage(v1)
	if !reflect.DeepEqual(again, old) {
		t.Errorf("core round trip = %+v\nwant %+v", again, old)
	}

	if _, err := conv.ToStorage(old); err == nil {
		t.Error("ToStorage accepted a core/v1 Event")
	}
}

func TestEventV1Fields(t *testing.T) {
	want := fields.Set{
		"regarding.kind": "Pod", "regarding.namespace": "default", "regarding.name": "web-0", "regarding.uid": "u1",
		"regarding.apiVersion": "v1", "regarding.resourceVersion": "", "regarding.fieldPath": "",
		"reason": "Scheduled", "reportingController": "skiff.dev/scheduler", "type": "Normal",
	}
	if got := EventsV1().Fields(testEventV1()); !reflect.DeepEqual(got, want) {
		t.Errorf("fields = %v\nwant %v", got, want)
	}
}
