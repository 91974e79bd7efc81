package openapi

import (
	"reflect"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Query parameters come from the options types the API server decodes
// them into, so their names and descriptions are the ones in k8s.io/api.
var (
	listParams   = queryParams(reflect.TypeFor[metav1.ListOptions]())
	createParams = queryParams(reflect.TypeFor[metav1.CreateOptions]())
	updateParams = queryParams(reflect.TypeFor[metav1.UpdateOptions]())
	patchParams  = queryParams(reflect.TypeFor[metav1.PatchOptions]())
	deleteParams = queryParams(reflect.TypeFor[metav1.DeleteOptions]())
	// deletecollection takes both, less the list options that only mean
	// something to a watch.
	deleteCollectionParams = slices.Concat(deleteParams, slices.DeleteFunc(slices.Clone(listParams),
		func(p parameter) bool { return p.Name == "watch" || p.Name == "allowWatchBookmarks" }))

	prettyParam = parameter{Name: "pretty", In: "query", Schema: &jsonSchema{Type: "string"},
		Description: "If 'true', the response is indented for reading by people."}
	namespaceParam = parameter{Name: "namespace", In: "path", Required: true, Schema: &jsonSchema{Type: "string"},
		Description: "the namespace of the objects"}
)

// queryParams turns the scalar fields of an options struct into query
// parameters, in field order. Embedded TypeMeta and nested objects
// (DeleteOptions.preconditions) are not expressible in a query and are
// left out; Time fields are strings.
func queryParams(t reflect.Type) []parameter {
	var docs map[string]string
	if sd, ok := reflect.New(t).Interface().(swaggerDocer); ok {
		docs = sd.SwaggerDoc()
	}
	var params []parameter
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous || name == "" || name == "-" {
			continue
		}
		if s := paramSchema(f.Type); s != nil {
			params = append(params, parameter{Name: name, In: "query", Description: docs[name], Schema: s})
		}
	}
	return params
}

// paramSchema is the schema of one query parameter; a repeated parameter
// has its element's schema. nil means the type cannot be a parameter.
func paramSchema(t reflect.Type) *jsonSchema {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if _, ok := reflect.New(t).Interface().(schemaTyper); ok {
		return &jsonSchema{Type: "string"}
	}
	switch t.Kind() {
	case reflect.String:
		return &jsonSchema{Type: "string"}
	case reflect.Bool:
		return &jsonSchema{Type: "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return &jsonSchema{Type: "integer"}
	}
	return nil
}

// nameParam is the {name} path parameter of an object of kind.
func nameParam(kind string) parameter {
	return parameter{Name: "name", In: "path", Required: true, Schema: &jsonSchema{Type: "string"},
		Description: "the name of the " + kind}
}
