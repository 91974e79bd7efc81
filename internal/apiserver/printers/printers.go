// Package printers holds skiff's server-side Table printing: for each
// built-in kind, the columns `kubectl get` shows and a pure function that
// turns one object into the cells of its row, at an injected time now.
//
// The columns and cell rules follow what kubectl prints against an upstream
// Kubernetes apiserver (pkg/printers/internalversion is the semantic
// reference), written here for the k8s.io/api v1 types. Like upstream's
// apiserver, rows always carry the wide (priority 1) cells; kubectl hides
// those columns unless asked for -o wide.
//
// Conventions for every KRow function:
//   - one cell per entry of KColumns, in order;
//   - text cells are string, count cells are int64 (so they encode as JSON
//     numbers) and their column has type "integer";
//   - AGE-like cells are duration.HumanDuration(now - t), "<unknown>" when t
//     is zero;
//   - an object of the wrong type still gives a full row: its name in the
//     name column (when readable) and "<unknown>" elsewhere;
//   - the exported column slices are shared (EventV1Columns is
//     EventColumns): callers read them and never modify them.
//
// This package owns no state and does no I/O. It does not know about
// resources, routes or content negotiation: internal/apiserver/resources
// picks a printer per resource and internal/apiserver builds the Table.
package printers

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Placeholders kubectl users know from upstream output.
const (
	none    = "<none>"
	unknown = "<unknown>"
	unset   = "<unset>"
)

// Column descriptions shared by many kinds, taken from the API's own field
// documentation as upstream does.
var (
	nameDescription = metav1.ObjectMeta{}.SwaggerDoc()["name"]
	ageDescription  = metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]
)

// nameColumn and ageColumn are the NAME and AGE columns most kinds share.
func nameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: nameDescription}
}

func ageColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: ageDescription}
}

// column is a priority 0 column; wide marks one shown only by -o wide.
func column(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description}
}

func wide(c metav1.TableColumnDefinition) metav1.TableColumnDefinition {
	c.Priority = 1
	return c
}

// DefaultColumns are NAME and AGE, printed for kinds without a printer of
// their own (and what kubectl falls back to without server-side tables).
var DefaultColumns = []metav1.TableColumnDefinition{nameColumn(), ageColumn()}

// DefaultRow gives the DefaultColumns cells of any object with metadata.
func DefaultRow(obj runtime.Object, now time.Time) []interface{} {
	m, err := meta.Accessor(obj)
	if err != nil {
		return []interface{}{unknown, unknown}
	}
	return []interface{}{m.GetName(), age(m.GetCreationTimestamp(), now)}
}

// age is the AGE text of timestamp t at now.
func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return unknown
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// microAge is age for the microsecond timestamps of events.
func microAge(t metav1.MicroTime, now time.Time) string {
	if t.IsZero() {
		return unknown
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// mismatchRow is the row for an object the printer does not know: the
// object's name under the name column, "<unknown>" in every other cell, so
// the table keeps its shape.
func mismatchRow(obj runtime.Object, columns []metav1.TableColumnDefinition) []interface{} {
	name := unknown
	if m, err := meta.Accessor(obj); err == nil {
		name = m.GetName()
	}
	cells := make([]interface{}, len(columns))
	for i, c := range columns {
		cells[i] = unknown
		if c.Format == "name" {
			cells[i] = name
		}
	}
	return cells
}

// orNone returns s, or "<none>" when s is empty.
func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}
