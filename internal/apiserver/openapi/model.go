package openapi

// The JSON shapes of an OpenAPI v3.0 document, reduced to what skiff emits.
// Field order and omitempty choices keep the output compact; extensions are
// plain fields because skiff emits a fixed set of them.

// document is one group-version's OpenAPI document. Components are written
// separately (see writeDocument) so that each schema is encoded only once.
type document struct {
	OpenAPI string               `json:"openapi"`
	Info    info                 `json:"info"`
	Paths   map[string]*pathItem `json:"paths"`
}

type info struct {
	Title   string `json:"title"`
	Version string `json:"version"`
}

// pathItem holds the operations on one URL. Parameters common to all of
// them (name, namespace, pretty) sit here, as upstream places them.
type pathItem struct {
	Get        *operation  `json:"get,omitempty"`
	Put        *operation  `json:"put,omitempty"`
	Post       *operation  `json:"post,omitempty"`
	Delete     *operation  `json:"delete,omitempty"`
	Patch      *operation  `json:"patch,omitempty"`
	Parameters []parameter `json:"parameters,omitempty"`
}

type operation struct {
	Tags        []string             `json:"tags,omitempty"`
	Description string               `json:"description,omitempty"`
	OperationID string               `json:"operationId"`
	Parameters  []parameter          `json:"parameters,omitempty"`
	RequestBody *requestBody         `json:"requestBody,omitempty"`
	Responses   map[string]*response `json:"responses"`
	Action      string               `json:"x-kubernetes-action,omitempty"`
	// GVK is a single object on operations (kubectl compares it as such),
	// unlike the list on schemas.
	GVK *gvk `json:"x-kubernetes-group-version-kind,omitempty"`
}

type parameter struct {
	Name        string      `json:"name"`
	In          string      `json:"in"`
	Description string      `json:"description,omitempty"`
	Required    bool        `json:"required,omitempty"`
	Schema      *jsonSchema `json:"schema"`
}

type requestBody struct {
	Content  map[string]mediaType `json:"content"`
	Required bool                 `json:"required,omitempty"`
}

type response struct {
	Description string               `json:"description"`
	Content     map[string]mediaType `json:"content,omitempty"`
}

type mediaType struct {
	Schema *jsonSchema `json:"schema"`
}

// gvk is written with all three keys, group "" included: kubectl's explain
// template matches it by map equality.
type gvk struct {
	Group   string `json:"group"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
}

// jsonSchema is a JSON schema as Kubernetes uses it, with its vendor extensions.
// Schemas built by the generator are shared between documents and never
// modified once built.
type jsonSchema struct {
	Ref                  string                 `json:"$ref,omitempty"`
	Description          string                 `json:"description,omitempty"`
	Type                 string                 `json:"type,omitempty"`
	Format               string                 `json:"format,omitempty"`
	Default              any                    `json:"default,omitempty"`
	Items                *jsonSchema            `json:"items,omitempty"`
	Properties           map[string]*jsonSchema `json:"properties,omitempty"`
	AdditionalProperties *jsonSchema            `json:"additionalProperties,omitempty"`
	Required             []string               `json:"required,omitempty"`
	AllOf                []*jsonSchema          `json:"allOf,omitempty"`
	OneOf                []*jsonSchema          `json:"oneOf,omitempty"`
	UniqueItems          bool                   `json:"uniqueItems,omitempty"`

	GVKs           []gvk    `json:"x-kubernetes-group-version-kind,omitempty"`
	IntOrString    bool     `json:"x-kubernetes-int-or-string,omitempty"`
	ListType       string   `json:"x-kubernetes-list-type,omitempty"`
	ListMapKeys    []string `json:"x-kubernetes-list-map-keys,omitempty"`
	PatchMergeKey  string   `json:"x-kubernetes-patch-merge-key,omitempty"`
	PatchStrategy  string   `json:"x-kubernetes-patch-strategy,omitempty"`
	PreserveFields bool     `json:"x-kubernetes-preserve-unknown-fields,omitempty"`
}

// ref returns a schema pointing at the named component.
func ref(name string) *jsonSchema {
	return &jsonSchema{Ref: "#/components/schemas/" + name}
}
