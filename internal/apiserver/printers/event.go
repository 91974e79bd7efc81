package printers

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// EventColumns are `kubectl get events` columns. The object's name comes
// last and only with -o wide; it still carries the "name" format.
var EventColumns = []metav1.TableColumnDefinition{
	column("Last Seen", "string", corev1.Event{}.SwaggerDoc()["lastTimestamp"]),
	column("Type", "string", corev1.Event{}.SwaggerDoc()["type"]),
	column("Reason", "string", corev1.Event{}.SwaggerDoc()["reason"]),
	column("Object", "string", corev1.Event{}.SwaggerDoc()["involvedObject"]),
	wide(column("Subobject", "string", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"])),
	wide(column("Source", "string", corev1.Event{}.SwaggerDoc()["source"])),
	column("Message", "string", corev1.Event{}.SwaggerDoc()["message"]),
	wide(column("First Seen", "string", corev1.Event{}.SwaggerDoc()["firstTimestamp"])),
	wide(column("Count", "integer", corev1.Event{}.SwaggerDoc()["count"])),
	wide(nameColumn()),
}

// EventV1Columns are the columns of events.k8s.io/v1 Events: the same as
// core/v1's, since both versions serve one kind of object.
var EventV1Columns = EventColumns

// EventRow gives the EventColumns cells of a core/v1 *corev1.Event.
func EventRow(obj runtime.Object, now time.Time) []interface{} {
	e, ok := obj.(*corev1.Event)
	if !ok {
		return mismatchRow(obj, EventColumns)
	}
	v := eventView{
		name:                e.Name,
		eventType:           e.Type,
		reason:              e.Reason,
		message:             e.Message,
		regarding:           e.InvolvedObject,
		source:              e.Source,
		reportingController: e.ReportingController,
		reportingInstance:   e.ReportingInstance,
		firstTimestamp:      e.FirstTimestamp,
		lastTimestamp:       e.LastTimestamp,
		eventTime:           e.EventTime,
		count:               e.Count,
	}
	if e.Series != nil {
		v.series = &eventsv1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	return v.cells(now)
}

// EventV1Row gives the EventV1Columns cells of an events.k8s.io/v1
// *eventsv1.Event, reading its fields as their core/v1 counterparts
// (regarding as involvedObject, note as message, the deprecated* fields as
// source, timestamps and count).
func EventV1Row(obj runtime.Object, now time.Time) []interface{} {
	e, ok := obj.(*eventsv1.Event)
	if !ok {
		return mismatchRow(obj, EventV1Columns)
	}
	v := eventView{
		name:                e.Name,
		eventType:           e.Type,
		reason:              e.Reason,
		message:             e.Note,
		regarding:           e.Regarding,
		source:              e.DeprecatedSource,
		reportingController: e.ReportingController,
		reportingInstance:   e.ReportingInstance,
		firstTimestamp:      e.DeprecatedFirstTimestamp,
		lastTimestamp:       e.DeprecatedLastTimestamp,
		eventTime:           e.EventTime,
		count:               e.DeprecatedCount,
		series:              e.Series,
	}
	return v.cells(now)
}

// eventView holds what an event row needs, whichever API version the
// event came in.
type eventView struct {
	name, eventType, reason, message       string
	regarding                              corev1.ObjectReference
	source                                 corev1.EventSource
	reportingController, reportingInstance string
	firstTimestamp, lastTimestamp          metav1.Time
	eventTime                              metav1.MicroTime
	count                                  int32
	series                                 *eventsv1.EventSeries
}

// cells applies the seen-time rules: FIRST SEEN is firstTimestamp, else
// eventTime (events recorded through the new API set only that); LAST SEEN
// is lastTimestamp, else FIRST SEEN; a series overrides LAST SEEN and
// COUNT with its last observation and count; a lone event counts 1.
func (v *eventView) cells(now time.Time) []interface{} {
	first := age(v.firstTimestamp, now)
	if v.firstTimestamp.IsZero() {
		first = microAge(v.eventTime, now)
	}
	last := age(v.lastTimestamp, now)
	if v.lastTimestamp.IsZero() {
		last = first
	}
	count := v.count
	if v.series != nil {
		last = microAge(v.series.LastObservedTime, now)
		count = v.series.Count
	} else if count == 0 {
		count = 1
	}
	return []interface{}{
		last,
		v.eventType,
		v.reason,
		eventObject(v.regarding),
		v.regarding.FieldPath,
		eventSource(v.source, v.reportingController, v.reportingInstance),
		strings.TrimSpace(v.message),
		first,
		int64(count),
		v.name,
	}
}

// eventObject is "kind/name" in lower-case kind, or the kind alone.
func eventObject(ref corev1.ObjectReference) string {
	kind := strings.ToLower(ref.Kind)
	if ref.Name == "" {
		return kind
	}
	return kind + "/" + ref.Name
}

// eventSource is "component, host", falling back to the reporting
// controller and instance, and leaving out an empty host.
func eventSource(src corev1.EventSource, controller, instance string) string {
	component, host := src.Component, src.Host
	if component == "" {
		component = controller
	}
	if host == "" {
		host = instance
	}
	if host == "" {
		return component
	}
	return component + ", " + host
}
