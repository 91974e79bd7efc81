package openapi

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestGolden pins the documents of the test resources as text: one line
// per operation and one per schema property, with types and extensions but
// without descriptions; a schema is written out in the first document that
// has it. Bodies are in JSON, YAML and protobuf unless marked +watch (also
// watch streams) or +patch (the four patch types). Run with -update after
// an intended change and read the diff.
func TestGolden(t *testing.T) {
	d := build(t, testResources())
	var b strings.Builder
	printed := map[string]bool{}
	for _, path := range d.paths {
		doc, _, _ := d.Get(path)
		var v struct {
			Paths      map[string]map[string]json.RawMessage `json:"paths"`
			Components struct {
				Schemas map[string]map[string]any `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(doc, &v); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "# %s\n", path)
		for _, p := range sortedKeys(v.Paths) {
			for _, method := range []string{"get", "post", "put", "patch", "delete"} {
				if raw, ok := v.Paths[p][method]; ok {
					fmt.Fprintf(&b, "%s %s %s\n", strings.ToUpper(method), p, summarizeOperation(raw))
				}
			}
		}
		var again []string
		for _, name := range sortedKeys(v.Components.Schemas) {
			if printed[name] {
				again = append(again, name[strings.LastIndex(name, ".")+1:])
				continue
			}
			printed[name] = true
			fmt.Fprintf(&b, "%s %s\n", name, summarizeSchema(v.Components.Schemas[name]))
		}
		fmt.Fprintf(&b, "(and, as above: %s)\n", strings.Join(again, " "))
	}
	file := filepath.Join("testdata", "documents.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got := b.String(); got != string(want) {
		gotLines, wantLines := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gotLines), len(wantLines)) {
			if gotLines[i] != wantLines[i] {
				t.Fatalf("documents differ from %s at line %d:\ngot  %s\nwant %s\n(run with -update if intended)", file, i+1, gotLines[i], wantLines[i])
			}
		}
		t.Fatalf("documents differ from %s in length (run with -update if intended)", file)
	}
}

func summarizeOperation(raw json.RawMessage) string {
	var op struct {
		ID         string `json:"operationId"`
		Action     string `json:"x-kubernetes-action"`
		GVK        *gvk   `json:"x-kubernetes-group-version-kind"`
		Parameters []struct {
			Name string `json:"name"`
		} `json:"parameters"`
		RequestBody *struct {
			Content map[string]mediaType `json:"content"`
		} `json:"requestBody"`
		Responses map[string]*struct {
			Content map[string]mediaType `json:"content"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(raw, &op); err != nil {
		return err.Error()
	}
	parts := []string{op.ID, "action=" + op.Action}
	if op.GVK != nil {
		parts = append(parts, fmt.Sprintf("gvk=%s/%s/%s", op.GVK.Group, op.GVK.Version, op.GVK.Kind))
	}
	var params []string
	for _, p := range op.Parameters {
		params = append(params, p.Name)
	}
	parts = append(parts, "query=["+strings.Join(params, ",")+"]")
	if op.RequestBody != nil {
		parts = append(parts, "body="+summarizeContent(op.RequestBody.Content))
	}
	for _, code := range sortedKeys(op.Responses) {
		parts = append(parts, code+"="+summarizeContent(op.Responses[code].Content))
	}
	return strings.Join(parts, " ")
}

// summarizeContent is the schema and the media types of a body.
func summarizeContent(content map[string]mediaType) string {
	if len(content) == 0 {
		return "-"
	}
	media := sortedKeys(content)
	s := content[media[0]].Schema
	name := s.Type
	if s.Ref != "" {
		name = s.Ref[strings.LastIndex(s.Ref, ".")+1:]
	}
	for abbrev, set := range map[string][]string{"": objectMedia, "+watch": listMedia, "+patch": patchMedia} {
		if slices.Equal(media, sortedKeys(setOf(set))) {
			return name + abbrev
		}
	}
	return name + "(" + strings.Join(media, ",") + ")"
}

func setOf(items []string) map[string]bool {
	m := map[string]bool{}
	for _, i := range items {
		m[i] = true
	}
	return m
}

func summarizeSchema(s map[string]any) string {
	var parts, lines []string
	for _, k := range sortedKeys(s) {
		switch k {
		case "description", "properties":
		case "x-kubernetes-group-version-kind", "required", "oneOf":
			parts = append(parts, k+"="+asJSON(s[k]))
		default:
			parts = append(parts, fmt.Sprintf("%s=%v", k, s[k]))
		}
	}
	props, _ := s["properties"].(map[string]any)
	for _, name := range sortedKeys(props) {
		p := props[name].(map[string]any)
		delete(p, "description")
		lines = append(lines, "\n    "+name+" "+typeOf(p)+extensions(p))
	}
	return strings.Join(parts, " ") + strings.Join(lines, "")
}

// typeOf writes a property's type the way kubectl explain does.
func typeOf(p map[string]any) string {
	if all, ok := p["allOf"].([]any); ok {
		p = all[0].(map[string]any)
	}
	switch {
	case p["$ref"] != nil:
		r := p["$ref"].(string)
		return r[strings.LastIndex(r, ".")+1:]
	case p["items"] != nil:
		return "[]" + typeOf(p["items"].(map[string]any))
	case p["additionalProperties"] != nil:
		return "map[string]" + typeOf(p["additionalProperties"].(map[string]any))
	case p["format"] != nil:
		return fmt.Sprintf("%v(%v)", p["type"], p["format"])
	}
	return fmt.Sprint(p["type"])
}

func extensions(p map[string]any) string {
	var out []string
	for _, k := range sortedKeys(p) {
		if strings.HasPrefix(k, "x-") || k == "default" {
			out = append(out, strings.TrimPrefix(k, "x-kubernetes-")+"="+asJSON(p[k]))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return " " + strings.Join(out, " ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
