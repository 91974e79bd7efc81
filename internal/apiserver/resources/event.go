package resources

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apiserver/printers"
)

// Size limits of new-style events (those with eventTime), as upstream's.
const (
	eventReasonLimit   = 128
	eventActionLimit   = 128
	eventInstanceLimit = 128
	eventNoteLimit     = 1024
)

// Events is core/v1 events. Both event APIs share one store of core/v1
// objects (which the apiserver expires an hour after their last write).
// An event lives in a namespace and may be about an object anywhere: a
// cluster-scoped object's events live in "default".
func Events() *Resource {
	return &Resource{
		GroupVersion: corev1.SchemeGroupVersion,
		Resource:     "events",
		Singular:     "event",
		Kind:         "Event",
		Namespaced:   true,
		ShortNames:   []string{"ev"},
		New:          func() runtime.Object { return &corev1.Event{} },
		NewList:      func() runtime.Object { return &corev1.EventList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			// Upstream checks only that a legacy event's name is a path
			// segment: recorders name events after objects whose names
			// need not be DNS subdomains ("system:node:n1.17a...").
			e := obj.(*corev1.Event)
			return append(ValidateMeta(e, true, path.ValidatePathSegmentName), validateCoreEvent(e)...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			e := obj.(*corev1.Event)
			return append(ValidateMetaUpdate(e, old), validateCoreEvent(e)...)
		},
		Fields: func(obj runtime.Object) fields.Set { return coreEventFields(obj.(*corev1.Event)) },
		Table:  &Table{Columns: printers.EventColumns, Row: printers.EventRow},
	}
}

// eventFieldNames name an event's fields in the API a write came
// through, for error paths.
type eventFieldNames struct{ object, reportingController, message string }

var (
	coreEventNames = eventFieldNames{"involvedObject", "reportingComponent", "message"}
	v1EventNames   = eventFieldNames{"regarding", "reportingController", "note"}
)

func validateCoreEvent(e *corev1.Event) field.ErrorList {
	return validateEventFields(e, coreEventNames)
}

// validateEventFields is upstream's check of every event, whichever API
// wrote it. An old-style event (no eventTime) must live in its object's
// namespace, or in "default" for a cluster-scoped object. A new-style
// one may be about an object in any namespace (a cluster-scoped object's
// events live in "default" or "kube-system") and must say who reported
// what, within size limits.
func validateEventFields(e *corev1.Event, names eventFieldNames) field.ErrorList {
	var errs field.ErrorList
	nsPath := field.NewPath(names.object, "namespace")
	objNS := e.InvolvedObject.Namespace
	if e.EventTime.IsZero() {
		if objNS == "" && e.Namespace != metav1.NamespaceDefault || objNS != "" && objNS != e.Namespace {
			errs = append(errs, field.Invalid(nsPath, objNS, "does not match event.namespace"))
		}
		return errs
	}
	if objNS == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
		errs = append(errs, field.Invalid(nsPath, objNS, "does not match event.namespace"))
	}
	rp := field.NewPath(names.reportingController)
	if e.ReportingController == "" {
		errs = append(errs, field.Required(rp, ""))
	} else {
		for _, msg := range validation.IsQualifiedName(e.ReportingController) {
			errs = append(errs, field.Invalid(rp, e.ReportingController, msg))
		}
	}
	for _, f := range []struct {
		path  *field.Path
		value string
		limit int
	}{
		{field.NewPath("reportingInstance"), e.ReportingInstance, eventInstanceLimit},
		{field.NewPath("action"), e.Action, eventActionLimit},
		{field.NewPath("reason"), e.Reason, eventReasonLimit},
	} {
		if f.value == "" {
			errs = append(errs, field.Required(f.path, ""))
		}
		if len(f.value) > f.limit {
			errs = append(errs, field.TooLong(f.path, "", f.limit))
		}
	}
	if len(e.Message) > eventNoteLimit {
		errs = append(errs, field.TooLong(field.NewPath(names.message), "", eventNoteLimit))
	}
	return errs
}

// coreEventFields are the selectable fields of a core/v1 event; "source"
// falls back to the reporting controller for new-style events.
func coreEventFields(e *corev1.Event) fields.Set {
	source := e.Source.Component
	if source == "" {
		source = e.ReportingController
	}
	return fields.Set{
		"involvedObject.kind":            e.InvolvedObject.Kind,
		"involvedObject.namespace":       e.InvolvedObject.Namespace,
		"involvedObject.name":            e.InvolvedObject.Name,
		"involvedObject.uid":             string(e.InvolvedObject.UID),
		"involvedObject.apiVersion":      e.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       e.InvolvedObject.FieldPath,
		"reason":                         e.Reason,
		"reportingComponent":             e.ReportingController,
		"source":                         source,
		"type":                           e.Type,
	}
}

// EventsV1 is events.k8s.io/v1 events, stored as core/v1 events so both
// APIs see the same objects. Its validation is upstream's strict one for
// this API.
func EventsV1() *Resource {
	return &Resource{
		GroupVersion: eventsv1.SchemeGroupVersion,
		Resource:     "events",
		Singular:     "event",
		Kind:         "Event",
		Namespaced:   true,
		ShortNames:   []string{"ev"},
		New:          func() runtime.Object { return &eventsv1.Event{} },
		NewList:      func() runtime.Object { return &eventsv1.EventList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			e := obj.(*eventsv1.Event)
			errs := append(ValidateMeta(e, true, NameIsDNSSubdomain), validateEventV1(e)...)
			return append(errs, validateEventV1Create(e)...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			e, o := obj.(*eventsv1.Event), old.(*eventsv1.Event)
			errs := append(ValidateMetaUpdate(e, o), validateEventV1(e)...)
			return append(errs, validateEventV1Update(e, o)...)
		},
		Storage: &StorageConversion{
			Resource: "events",
			Group:    "",
			New:      func() runtime.Object { return &corev1.Event{} },
			NewList:  func() runtime.Object { return &corev1.EventList{} },
			ToStorage: func(obj runtime.Object) (runtime.Object, error) {
				e, ok := obj.(*eventsv1.Event)
				if !ok {
					return nil, fmt.Errorf("converting to core/v1 Event: unexpected %T", obj)
				}
				return eventV1ToCore(e), nil
			},
			FromStorage: func(obj runtime.Object) (runtime.Object, error) {
				e, ok := obj.(*corev1.Event)
				if !ok {
					return nil, fmt.Errorf("converting to events.k8s.io/v1 Event: unexpected %T", obj)
				}
				return eventCoreToV1(e), nil
			},
		},
		Fields: func(obj runtime.Object) fields.Set {
			e := obj.(*eventsv1.Event)
			return fields.Set{
				"regarding.kind":            e.Regarding.Kind,
				"regarding.namespace":       e.Regarding.Namespace,
				"regarding.name":            e.Regarding.Name,
				"regarding.uid":             string(e.Regarding.UID),
				"regarding.apiVersion":      e.Regarding.APIVersion,
				"regarding.resourceVersion": e.Regarding.ResourceVersion,
				"regarding.fieldPath":       e.Regarding.FieldPath,
				"reason":                    e.Reason,
				"reportingController":       e.ReportingController,
				"type":                      e.Type,
			}
		},
		Table: &Table{Columns: printers.EventV1Columns, Row: printers.EventV1Row},
	}
}

// validateEventV1 is what every write through events.k8s.io/v1 must
// satisfy: the shared checks (an eventTime is required here, so they are
// the new-style ones) and a consistent series.
func validateEventV1(e *eventsv1.Event) field.ErrorList {
	errs := validateEventFields(eventV1ToCore(e), v1EventNames)
	if e.EventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
	}
	if s := e.Series; s != nil {
		if s.Count < 2 {
			errs = append(errs, field.Invalid(field.NewPath("series", "count"), s.Count, "should be at least 2"))
		}
		if s.LastObservedTime.IsZero() {
			errs = append(errs, field.Required(field.NewPath("series", "lastObservedTime"), ""))
		}
	}
	return errs
}

// validateEventV1Create: a new event says Normal or Warning and leaves the
// deprecated core/v1 fields to the old API.
func validateEventV1Create(e *eventsv1.Event) field.ErrorList {
	var errs field.ErrorList
	if e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning {
		errs = append(errs, field.Invalid(field.NewPath("type"), e.Type, "has invalid value: "+e.Type))
	}
	unset := func(name string, set bool) {
		if set {
			errs = append(errs, field.Invalid(field.NewPath(name), "", "needs to be unset"))
		}
	}
	unset("deprecatedFirstTimestamp", !e.DeprecatedFirstTimestamp.IsZero())
	unset("deprecatedLastTimestamp", !e.DeprecatedLastTimestamp.IsZero())
	unset("deprecatedCount", e.DeprecatedCount != 0)
	unset("deprecatedSource", e.DeprecatedSource != corev1.EventSource{})
	return errs
}

// validateEventV1Update: once written, only the series (and metadata)
// of an event change. eventTime is compared to the microsecond, the
// precision it is serialized with.
func validateEventV1Update(e, old *eventsv1.Event) field.ErrorList {
	var errs field.ErrorList
	immutable := func(name string, v, ov interface{}) {
		errs = append(errs, apimachineryvalidation.ValidateImmutableField(v, ov, field.NewPath(name))...)
	}
	immutable("regarding", e.Regarding, old.Regarding)
	immutable("related", e.Related, old.Related)
	immutable("reason", e.Reason, old.Reason)
	immutable("note", e.Note, old.Note)
	immutable("type", e.Type, old.Type)
	immutable("action", e.Action, old.Action)
	immutable("reportingController", e.ReportingController, old.ReportingController)
	immutable("reportingInstance", e.ReportingInstance, old.ReportingInstance)
	immutable("deprecatedSource", e.DeprecatedSource, old.DeprecatedSource)
	immutable("deprecatedFirstTimestamp", e.DeprecatedFirstTimestamp, old.DeprecatedFirstTimestamp)
	immutable("deprecatedLastTimestamp", e.DeprecatedLastTimestamp, old.DeprecatedLastTimestamp)
	immutable("deprecatedCount", e.DeprecatedCount, old.DeprecatedCount)
	if !e.EventTime.Truncate(time.Microsecond).Equal(old.EventTime.Truncate(time.Microsecond)) {
		immutable("eventTime", e.EventTime, old.EventTime)
	}
	return errs
}

// eventV1ToCore converts an events.k8s.io/v1 Event into the stored
// core/v1 form, field by field; eventCoreToV1 is its inverse. Neither
// shares memory with its argument.
func eventV1ToCore(in *eventsv1.Event) *corev1.Event {
	e := in.DeepCopy()
	out := &corev1.Event{
		TypeMeta:            metav1.TypeMeta{APIVersion: corev1.SchemeGroupVersion.String(), Kind: "Event"},
		ObjectMeta:          e.ObjectMeta,
		InvolvedObject:      e.Regarding,
		Related:             e.Related,
		Reason:              e.Reason,
		Message:             e.Note,
		Type:                e.Type,
		Action:              e.Action,
		EventTime:           e.EventTime,
		ReportingController: e.ReportingController,
		ReportingInstance:   e.ReportingInstance,
		Source:              e.DeprecatedSource,
		FirstTimestamp:      e.DeprecatedFirstTimestamp,
		LastTimestamp:       e.DeprecatedLastTimestamp,
		Count:               e.DeprecatedCount,
	}
	if e.Series != nil {
		out.Series = &corev1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	return out
}

func eventCoreToV1(in *corev1.Event) *eventsv1.Event {
	e := in.DeepCopy()
	out := &eventsv1.Event{
		TypeMeta:                 metav1.TypeMeta{APIVersion: eventsv1.SchemeGroupVersion.String(), Kind: "Event"},
		ObjectMeta:               e.ObjectMeta,
		Regarding:                e.InvolvedObject,
		Related:                  e.Related,
		Reason:                   e.Reason,
		Note:                     e.Message,
		Type:                     e.Type,
		Action:                   e.Action,
		EventTime:                e.EventTime,
		ReportingController:      e.ReportingController,
		ReportingInstance:        e.ReportingInstance,
		DeprecatedSource:         e.Source,
		DeprecatedFirstTimestamp: e.FirstTimestamp,
		DeprecatedLastTimestamp:  e.LastTimestamp,
		DeprecatedCount:          e.Count,
	}
	if e.Series != nil {
		out.Series = &eventsv1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	return out
}
