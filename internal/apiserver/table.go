package apiserver

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/skiff-sh/skiff/internal/jsonenc"
)

var defaultTableColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
	{Name: "Age", Type: "string", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
}

func defaultTableRow(obj runtime.Object, now time.Time) []interface{} {
	m, err := meta.Accessor(obj)
	if err != nil {
		return []interface{}{"<unknown>", "<unknown>"}
	}
	return []interface{}{m.GetName(), age(m.GetCreationTimestamp(), now)}
}

func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// tableBuilder makes a resource's Table rows.
type tableBuilder struct {
	include metav1.IncludeObjectPolicy
	columns []metav1.TableColumnDefinition
	rowFn   func(runtime.Object, time.Time) []interface{}
	gvk     schema.GroupVersionKind
	now     time.Time
}

// newTableBuilder reads ?includeObject= (Metadata by default, None or
// Object) and the resource's columns.
func (s *Server) newTableBuilder(r *http.Request, ep *endpoint) (*tableBuilder, error) {
	b := &tableBuilder{include: metav1.IncludeMetadata, columns: defaultTableColumns, rowFn: defaultTableRow, gvk: ep.gvk, now: s.now()}
	if v := r.URL.Query().Get("includeObject"); v != "" {
		switch metav1.IncludeObjectPolicy(v) {
		case metav1.IncludeNone, metav1.IncludeMetadata, metav1.IncludeObject:
			b.include = metav1.IncludeObjectPolicy(v)
		default:
			return nil, badRequest(fmt.Sprintf("includeObject: unsupported value %q", v))
		}
	}
	if ep.res.Table != nil {
		b.columns, b.rowFn = ep.res.Table.Columns, ep.res.Table.Row
	}
	return b, nil
}

// row is item's row: its cells and, per includeObject, its metadata or
// the whole object.
func (b *tableBuilder) row(item runtime.Object) (metav1.TableRow, error) {
	row := metav1.TableRow{Cells: b.rowFn(item, b.now)}
	switch b.include {
	case metav1.IncludeMetadata:
		m, err := meta.Accessor(item)
		if err != nil {
			return row, err
		}
		var om metav1.ObjectMeta
		if typed, ok := m.(*metav1.ObjectMeta); ok {
			om = *typed // shared maps and slices: only read
		} else {
			om = *objectMetaOf(m)
		}
		p := &metav1.PartialObjectMetadata{ObjectMeta: om}
		p.Kind, p.APIVersion = "PartialObjectMetadata", "meta.k8s.io/v1"
		raw, err := jsonenc.Marshal(p)
		if err != nil {
			return row, err
		}
		row.Object.Raw = raw
	case metav1.IncludeObject:
		raw, err := jsonenc.Marshal(withKind(item, b.gvk))
		if err != nil {
			return row, err
		}
		row.Object.Raw = raw
	}
	return row, nil
}

// head is the Table of obj (an object or a list) without rows.
func (b *tableBuilder) head(obj runtime.Object, version string, withColumns bool) *metav1.Table {
	table := &metav1.Table{}
	table.Kind, table.APIVersion = "Table", "meta.k8s.io/"+version
	if withColumns {
		table.ColumnDefinitions = b.columns
	}
	if meta.IsListType(obj) {
		if lm, err := meta.ListAccessor(obj); err == nil {
			table.ResourceVersion, table.Continue, table.RemainingItemCount = lm.GetResourceVersion(), lm.GetContinue(), lm.GetRemainingItemCount()
		}
	} else if m, err := meta.Accessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
	}
	return table
}

// toTable renders obj (an object or a list) as a meta.k8s.io Table with
// the resource's columns. includeObject follows ?includeObject=
// (Metadata by default, None or Object). Watch events after the first omit
// column definitions (withColumns=false).
func (s *Server) toTable(r *http.Request, ep *endpoint, obj runtime.Object, version string, withColumns bool) (*metav1.Table, error) {
	b, err := s.newTableBuilder(r, ep)
	if err != nil {
		return nil, err
	}
	table := b.head(obj, version, withColumns)
	addRow := func(item runtime.Object) error {
		row, err := b.row(item)
		if err != nil {
			return err
		}
		table.Rows = append(table.Rows, row)
		return nil
	}
	if !meta.IsListType(obj) {
		return table, addRow(obj)
	}
	if err := meta.EachListItem(obj, addRow); err != nil {
		return nil, err
	}
	if table.Rows == nil {
		table.Rows = []metav1.TableRow{}
	}
	return table, nil
}

// writeJSONTable writes list as a Table in JSON, byte for byte what
// json.Marshal of toTable's answer and a newline give, one row at a time:
// the rows are made as they are written, so a Table of 150,000 pods never
// exists whole, as rows or as bytes (kubectl get asks for these).
func writeJSONTable(w io.Writer, b *tableBuilder, list runtime.Object, version string) error {
	table := b.head(list, version, true)
	table.Rows = []metav1.TableRow{}
	head, err := json.Marshal(table)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, streamBuffer)
	bw.Write(head[:len(head)-2]) // without the closing "]}"
	first := true
	err = meta.EachListItem(list, func(item runtime.Object) error {
		row, err := b.row(item)
		if err != nil {
			return err
		}
		if !first {
			bw.WriteByte(',')
		}
		first = false
		return writeJSONRow(bw, &row)
	})
	if err != nil {
		return err
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

// writeJSONRow writes row as json.Marshal would, but puts its object's
// JSON in as it is: row.Object.Raw is json.Marshal's output already, and
// json.Marshal would scan it again to compact it, which for a pod's
// metadata is most of the cost of a row.
func writeJSONRow(w *bufio.Writer, row *metav1.TableRow) error {
	cells, err := jsonenc.Marshal(row.Cells)
	if err != nil {
		return err
	}
	w.WriteString(`{"cells":`)
	w.Write(cells)
	if len(row.Conditions) > 0 {
		conds, err := json.Marshal(row.Conditions)
		if err != nil {
			return err
		}
		w.WriteString(`,"conditions":`)
		w.Write(conds)
	}
	w.WriteString(`,"object":`)
	if row.Object.Raw == nil {
		w.WriteString("null")
	} else {
		w.Write(row.Object.Raw)
	}
	_, err = w.WriteString("}")
	return err
}
