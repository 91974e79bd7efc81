package openapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Identity of the documents, as kubectl prints and checks it.
const (
	openAPIVersion = "3.0.0"
	docTitle       = "Kubernetes"
	docVersion     = "v1.32.0"
)

// document generates the JSON document of one group-version.
func (g *generator) document(gv schema.GroupVersion, resources []Resource) []byte {
	p := newPathBuilder(g, gv)
	for _, r := range resources {
		p.addResource(r)
	}
	head := encode(document{OpenAPI: openAPIVersion, Info: info{Title: docTitle, Version: docVersion}, Paths: p.items})
	var b bytes.Buffer
	b.Write(head[:len(head)-1]) // reopen the object to append components
	b.WriteString(`,"components":{"schemas":{`)
	for i, d := range g.closure(p.roots) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(encode(d.name))
		b.WriteByte(':')
		if d.encoded == nil {
			d.encoded = encode(d.schema)
		}
		b.Write(d.encoded)
	}
	b.WriteString("}}}")
	return b.Bytes()
}

// metaKinds are the kinds of the meta types operations use. Status and
// APIResourceList are unversioned (core v1); WatchEvent and DeleteOptions
// belong to every group-version.
func metaKinds(gvs []schema.GroupVersion) map[reflect.Type][]gvk {
	m := map[reflect.Type][]gvk{
		statusType:          {{Version: "v1", Kind: "Status"}},
		apiResourceListType: {{Version: "v1", Kind: "APIResourceList"}},
	}
	for _, gv := range gvs {
		m[deleteOptionsType] = append(m[deleteOptionsType], toGVK(gv.WithKind("DeleteOptions")))
		m[watchEventType] = append(m[watchEventType], toGVK(gv.WithKind("WatchEvent")))
	}
	return m
}

// closure returns the definitions of roots and of every type they reach,
// sorted by name.
func (g *generator) closure(roots []reflect.Type) []*definition {
	seen := map[reflect.Type]bool{}
	var defs []*definition
	queue := slices.Clone(roots)
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		if seen[t] {
			continue
		}
		seen[t] = true
		d := g.define(t)
		defs = append(defs, d)
		queue = append(queue, d.deps...)
	}
	slices.SortFunc(defs, func(a, b *definition) int { return strings.Compare(a.name, b.name) })
	return slices.CompactFunc(defs, func(a, b *definition) bool { return a.name == b.name })
}

// encode is compact JSON without HTML escaping: descriptions are full of
// "<" and ">", and escaping them only makes documents larger.
func encode(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only the package's own model types are encoded here.
		panic("openapi: encoding document: " + err.Error())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
