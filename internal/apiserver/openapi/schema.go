package openapi

import (
	"encoding/json"
	"reflect"
	"strings"
)

// Methods the generator looks for on API types. k8s.io/api and
// apimachinery types carry them as generated code, so reflection finds the
// same names, descriptions and custom formats that upstream's generator
// reads from source.
type (
	swaggerDocer interface{ SwaggerDoc() map[string]string }
	modelNamer   interface{ OpenAPIModelName() string }
	schemaTyper  interface {
		OpenAPISchemaType() []string
		OpenAPISchemaFormat() string
	}
	oneOfTyper interface{ OpenAPIV3OneOfTypes() []string }
)

// definition is one named component schema and the struct types its
// properties refer to.
type definition struct {
	name   string
	schema *jsonSchema
	deps   []reflect.Type
	// encoded is the schema's JSON, filled in once by the first document
	// that includes it.
	encoded []byte
}

// generator turns Go struct types into component schemas. It caches every
// definition, so types shared by several group-versions (ObjectMeta,
// PodSpec, ...) are reflected over and encoded once. Not safe for
// concurrent use; Documents serializes access.
type generator struct {
	defs map[reflect.Type]*definition
	// kinds holds the x-kubernetes-group-version-kind list of each
	// top-level type.
	kinds map[reflect.Type][]gvk
}

func newGenerator(kinds map[reflect.Type][]gvk) *generator {
	return &generator{defs: map[reflect.Type]*definition{}, kinds: kinds}
}

// define returns the definition of struct type t, building it (and the
// definitions it depends on) on first use.
func (g *generator) define(t reflect.Type) *definition {
	if d, ok := g.defs[t]; ok {
		return d
	}
	d := &definition{name: modelName(t)}
	g.defs[t] = d // before recursing: API types may refer to themselves
	zero := reflect.New(t).Interface()
	var docs map[string]string
	if sd, ok := zero.(swaggerDocer); ok {
		docs = sd.SwaggerDoc()
	}
	s := &jsonSchema{Description: docs[""], GVKs: g.kinds[t]}
	if s.Description == "" {
		s.Description = builtinDescriptions[d.name]
	}
	switch typer, ok := zero.(schemaTyper); {
	case ok:
		format := typer.OpenAPISchemaFormat()
		if oneOf, ok := zero.(oneOfTyper); ok {
			for _, typ := range oneOf.OpenAPIV3OneOfTypes() {
				s.OneOf = append(s.OneOf, &jsonSchema{Type: typ})
			}
		} else if types := typer.OpenAPISchemaType(); len(types) > 0 {
			s.Type = types[0]
		}
		s.Format = format
		s.IntOrString = format == "int-or-string"
	default:
		s.Type = "object"
		s.Properties = map[string]*jsonSchema{}
		g.addFields(d, s, t, d.name, docs)
	}
	d.schema = s
	return d
}

// addFields adds the JSON-visible fields of struct t to s, inlining
// embedded structs the way encoding/json does. owner names the type that
// declares the fields.
func (g *generator) addFields(d *definition, s *jsonSchema, t reflect.Type, owner string, docs map[string]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && opts == "" || !f.IsExported() && !f.Anonymous {
			continue
		}
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				var inner map[string]string
				if sd, ok := reflect.New(ft).Interface().(swaggerDocer); ok {
					inner = sd.SwaggerDoc()
				}
				g.addFields(d, s, ft, modelName(ft), inner)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		omit := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		p := g.property(d, ft, docs[name], omit, f.Tag)
		if lt, ok := listTypes[owner+"."+name]; ok {
			p.ListType, p.ListMapKeys = lt.listType, lt.keys
		}
		if def, ok := keyDefaults[owner+"."+name]; ok {
			p.Default = def
		}
		s.Properties[name] = p
		if !omit && ft.Kind() != reflect.Pointer {
			s.Required = append(s.Required, name)
		}
	}
}

// property is the schema of one struct field of type t. A $ref with a
// description or default is wrapped in allOf, since OpenAPI 3.0 ignores
// siblings of $ref.
func (g *generator) property(d *definition, t reflect.Type, desc string, omit bool, tag reflect.StructTag) *jsonSchema {
	p := g.inline(d, t)
	def := defaultOf(t, omit)
	if p.Ref != "" && (desc != "" || def != nil) {
		p = &jsonSchema{AllOf: []*jsonSchema{p}}
	}
	p.Description, p.Default = desc, def
	p.PatchStrategy = tag.Get("patchStrategy")
	if key := tag.Get("patchMergeKey"); key != "" {
		p.PatchMergeKey = key
		if t.Kind() == reflect.Slice {
			p.ListType, p.ListMapKeys = "map", []string{key}
		}
	}
	return p
}

// inline is the schema used where a value of type t appears: a $ref for
// named structs, an inline schema for everything else.
func (g *generator) inline(d *definition, t reflect.Type) *jsonSchema {
	switch t.Kind() {
	case reflect.Pointer:
		return g.inline(d, t.Elem())
	case reflect.Struct:
		if t.Name() == "" {
			s := &jsonSchema{Type: "object", Properties: map[string]*jsonSchema{}}
			g.addFields(d, s, t, "", nil)
			return s
		}
		d.deps = append(d.deps, t)
		return ref(g.define(t).name)
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return &jsonSchema{Type: "string", Format: "byte"}
		}
		return &jsonSchema{Type: "array", Items: g.inline(d, t.Elem())}
	case reflect.Map:
		return &jsonSchema{Type: "object", AdditionalProperties: g.inline(d, t.Elem())}
	case reflect.String:
		return &jsonSchema{Type: "string"}
	case reflect.Bool:
		return &jsonSchema{Type: "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return &jsonSchema{Type: "integer", Format: "int32"}
	case reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return &jsonSchema{Type: "integer", Format: "int64"}
	case reflect.Float32:
		return &jsonSchema{Type: "number", Format: "float"}
	case reflect.Float64:
		return &jsonSchema{Type: "number", Format: "double"}
	default: // interface{} and the like: any JSON value
		return &jsonSchema{Type: "object", PreserveFields: true}
	}
}

// defaultOf is the default upstream declares for a field that is always
// serialized: {} for plain structs, the zero value for scalars. Types that
// decode themselves (Time, Quantity, ...) and nil-able kinds have none.
func defaultOf(t reflect.Type, omit bool) any {
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		return map[string]any{}
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32,
		reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		if omit {
			return nil
		}
		return reflect.Zero(t).Interface()
	}
	return nil
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// modelName names a type's component the way upstream does:
// k8s.io/api/core/v1.Pod becomes io.k8s.api.core.v1.Pod. Generated types
// state it themselves; others get the same rule applied to their package
// path.
func modelName(t reflect.Type) string {
	if n, ok := reflect.New(t).Interface().(modelNamer); ok {
		return n.OpenAPIModelName()
	}
	return packageModelName(t.PkgPath()) + "." + t.Name()
}

func packageModelName(pkg string) string {
	host, rest, _ := strings.Cut(pkg, "/")
	labels := strings.Split(host, ".")
	for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
		labels[i], labels[j] = labels[j], labels[i]
	}
	name := strings.Join(labels, ".")
	if rest != "" {
		name += "." + strings.ReplaceAll(rest, "/", ".")
	}
	return strings.ReplaceAll(name, "-", "_")
}
