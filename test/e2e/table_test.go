package e2e

import (
	"reflect"
	"strings"
	"testing"
)

// table is kubectl's column output: a header and aligned rows. kubectl
// separates columns by at least three spaces (tabwriter padding) and a
// header may hold single spaces ("LAST SEEN", "NOMINATED NODE"), so columns
// are found from the header's runs of two or more spaces and each row is
// cut at the same offsets. Empty cells (e.g. SHORTNAMES in api-resources)
// come out as "".
type table struct {
	header []string
	rows   [][]string
}

// parseTable parses the first table in out; blank lines end it.
func parseTable(t *testing.T, out string) table {
	t.Helper()
	tables := parseTables(out)
	if len(tables) == 0 {
		t.Fatalf("no table in kubectl output:\n%s", out)
	}
	return tables[0]
}

// parseTables parses every table in out (`kubectl get all` prints one per
// kind, separated by blank lines).
func parseTables(out string) []table {
	var tables []table
	var cur *table
	var starts []int
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			cur = nil
			continue
		}
		r := []rune(line)
		if cur == nil {
			starts = columnStarts(r)
			tables = append(tables, table{header: cutRow(r, starts)})
			cur = &tables[len(tables)-1]
			continue
		}
		cur.rows = append(cur.rows, cutRow(r, starts))
	}
	return tables
}

// columnStarts returns where each header cell begins.
func columnStarts(header []rune) []int {
	var starts []int
	for i, c := range header {
		if c == ' ' {
			continue
		}
		if i == 0 || (i >= 2 && header[i-1] == ' ' && header[i-2] == ' ') {
			starts = append(starts, i)
		}
	}
	return starts
}

func cutRow(line []rune, starts []int) []string {
	cells := make([]string, len(starts))
	for i, s := range starts {
		if s >= len(line) {
			continue
		}
		end := len(line)
		if i+1 < len(starts) && starts[i+1] < end {
			end = starts[i+1]
		}
		cells[i] = strings.TrimSpace(string(line[s:end]))
	}
	return cells
}

// col returns the index of the named column, or -1.
func (tb table) col(name string) int {
	for i, h := range tb.header {
		if h == name {
			return i
		}
	}
	return -1
}

// row returns the first row whose first column is name, as column → cell.
func (tb table) row(name string) (map[string]string, bool) {
	for _, r := range tb.rows {
		if len(r) > 0 && r[0] == name {
			return tb.asMap(r), true
		}
	}
	return nil, false
}

// rowsWhere returns the rows, as maps, whose cells match every
// column → value pair of match.
func (tb table) rowsWhere(match map[string]string) []map[string]string {
	var out []map[string]string
	for _, r := range tb.rows {
		m := tb.asMap(r)
		ok := true
		for k, v := range match {
			if m[k] != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// column returns every cell of the named column.
func (tb table) column(name string) []string {
	i := tb.col(name)
	if i < 0 {
		return nil
	}
	var out []string
	for _, r := range tb.rows {
		out = append(out, r[i])
	}
	return out
}

func (tb table) asMap(r []string) map[string]string {
	m := make(map[string]string, len(tb.header))
	for i, h := range tb.header {
		m[h] = r[i]
	}
	return m
}

// wantHeader fails t unless the table's columns are exactly want.
func wantHeader(t *testing.T, tb table, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(tb.header, want) {
		t.Errorf("columns = %q, want %q", tb.header, want)
	}
}

// wantRow fails t unless the table has a row named name whose cells match
// want (column → value); it returns the row.
func wantRow(t *testing.T, tb table, name string, want map[string]string) map[string]string {
	t.Helper()
	row, ok := tb.row(name)
	if !ok {
		t.Errorf("no row %q in table %q with rows %q", name, tb.header, tb.rows)
		return nil
	}
	for k, v := range want {
		got, present := row[k]
		if !present {
			t.Errorf("row %q: no column %q (columns %q)", name, k, tb.header)
		} else if got != v {
			t.Errorf("row %q: %s = %q, want %q", name, k, got, v)
		}
	}
	return row
}

// TestParseTable pins the parser on kubectl's layout; it needs no server.
func TestParseTable(t *testing.T) {
	out := "NAME            SHORTNAMES   APIVERSION               NAMESPACED   KIND\n" +
		"leases                       coordination.k8s.io/v1   true         Lease\n" +
		"pods            po           v1                       true         Pod\n" +
		"\n" +
		"LAST SEEN   TYPE     REASON    OBJECT   MESSAGE\n" +
		"5s          Normal   Testing   pod/p    hello  there e2e\n"
	tables := parseTables(out)
	if len(tables) != 2 {
		t.Fatalf("got %d tables, want 2", len(tables))
	}
	wantHeader(t, tables[0], "NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND")
	wantRow(t, tables[0], "leases", map[string]string{"SHORTNAMES": "", "APIVERSION": "coordination.k8s.io/v1", "KIND": "Lease"})
	wantRow(t, tables[0], "pods", map[string]string{"SHORTNAMES": "po", "NAMESPACED": "true"})
	wantHeader(t, tables[1], "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE")
	wantRow(t, tables[1], "5s", map[string]string{"OBJECT": "pod/p", "MESSAGE": "hello  there e2e"})
	if got := tables[0].column("KIND"); !reflect.DeepEqual(got, []string{"Lease", "Pod"}) {
		t.Errorf("column KIND = %q", got)
	}
}
