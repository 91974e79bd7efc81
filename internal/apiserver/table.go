package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
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

// toTable renders obj (an object or a list) as a meta.k8s.io Table with
// the resource's columns. includeObject follows ?includeObject=
// (Metadata by default, None or Object). Watch events after the first omit
// column definitions (withColumns=false).
func (s *Server) toTable(r *http.Request, ep *endpoint, obj runtime.Object, version string, withColumns bool) (*metav1.Table, error) {
	include := metav1.IncludeMetadata
	if v := r.URL.Query().Get("includeObject"); v != "" {
		switch metav1.IncludeObjectPolicy(v) {
		case metav1.IncludeNone, metav1.IncludeMetadata, metav1.IncludeObject:
			include = metav1.IncludeObjectPolicy(v)
		default:
			return nil, badRequest(fmt.Sprintf("includeObject: unsupported value %q", v))
		}
	}
	columns, rowFn := defaultTableColumns, defaultTableRow
	if ep.res.Table != nil {
		columns, rowFn = ep.res.Table.Columns, ep.res.Table.Row
	}
	now := s.now()
	table := &metav1.Table{}
	table.Kind, table.APIVersion = "Table", "meta.k8s.io/"+version
	if withColumns {
		table.ColumnDefinitions = columns
	}
	addRow := func(item runtime.Object) error {
		row := metav1.TableRow{Cells: rowFn(item, now)}
		switch include {
		case metav1.IncludeMetadata:
			m, err := meta.Accessor(item)
			if err != nil {
				return err
			}
			p := &metav1.PartialObjectMetadata{ObjectMeta: *objectMetaOf(m)}
			p.Kind, p.APIVersion = "PartialObjectMetadata", "meta.k8s.io/v1"
			raw, err := json.Marshal(p)
			if err != nil {
				return err
			}
			row.Object.Raw = raw
		case metav1.IncludeObject:
			raw, err := json.Marshal(withKind(item, ep.gvk))
			if err != nil {
				return err
			}
			row.Object.Raw = raw
		}
		table.Rows = append(table.Rows, row)
		return nil
	}
	if meta.IsListType(obj) {
		if lm, err := meta.ListAccessor(obj); err == nil {
			table.ResourceVersion, table.Continue, table.RemainingItemCount = lm.GetResourceVersion(), lm.GetContinue(), lm.GetRemainingItemCount()
		}
		if err := meta.EachListItem(obj, addRow); err != nil {
			return nil, err
		}
		if table.Rows == nil {
			table.Rows = []metav1.TableRow{}
		}
		return table, nil
	}
	if m, err := meta.Accessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
	}
	return table, addRow(obj)
}
