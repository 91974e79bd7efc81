package apiserver

import (
	"reflect"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// noManagedFieldsConverter is the field manager's type converter, minus
// the cost of converting the live object's managedFields.
//
// On every write the field manager turns the stored object and the new
// one into structured-merge-diff values and compares them. The new object
// has its managedFields taken off first; the stored one keeps them, and
// each entry's fieldsV1 has no direct converter, so it goes through a JSON
// encode and decode into nested maps, then the validating walk and the
// comparison: for a running pod's status update, a quarter of the field
// manager's time (BenchmarkPodStatusFieldManager). None of it can change
// the outcome. The new object never carries managedFields into the
// comparison, so no manager can come to own a path under them, and
// metadata.managedFields itself is stripped from every manager's set (the
// stripMetaManager); the entries the field manager records are decoded
// from the objects' metadata, not from these values. So the converter
// sees the object without them.
//
// Apply builds its result from the converted live object, without the
// managedFields then; the field manager sets them on that result from
// what it recorded, as it does for every write.
//
// An update's conversions (the stored object and the new one, both with
// duplicates allowed) of a built-in type's Go struct also skip the
// schema walk that checks the value against the type it converts to: a
// sixth of the server's field manager time and 6% of its CPU late in a
// 1,000-node churn. With duplicates allowed, that walk cannot fail on a
// built-in type's struct: the schema is generated from these same Go
// types, so a struct has no field the schema lacks and no scalar of
// another kind, and repeated keys and list items without a key pass it
// (TestNoManagedFieldsConverterSameOddLists). Apply's patch, where duplicates are an error, and unstructured objects
// (custom resources, checked against a schema their authors wrote) keep
// the walk. The first conversion of each kind is checked in full; it
// gives the schema and type the later ones use.
type noManagedFieldsConverter struct {
	managedfields.TypeConverter
	kinds *sync.Map // the kind's GroupVersionKind -> typedKind
}

type typedKind struct {
	schema  *smdschema.Schema
	typeRef smdschema.TypeRef
}

// newNoManagedFieldsConverter is the type converter of scheme's built-in
// types, as the field managers use it.
func newNoManagedFieldsConverter(scheme *runtime.Scheme) noManagedFieldsConverter {
	return noManagedFieldsConverter{TypeConverter: applyconfigurations.NewTypeConverter(scheme), kinds: &sync.Map{}}
}

func (c noManagedFieldsConverter) ObjectToTyped(obj runtime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	obj = withoutManagedFields(obj)
	if _, ok := obj.(*unstructured.Unstructured); ok || !slices.Contains(opts, typed.AllowDuplicates) {
		return c.TypeConverter.ObjectToTyped(obj, opts...)
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	if k, ok := c.kinds.Load(gvk); ok {
		v, err := value.NewValueReflect(obj)
		if err != nil {
			return nil, err
		}
		k := k.(typedKind)
		return typed.AsTypedUnvalidated(v, k.schema, k.typeRef), nil
	}
	// The record is keyed as upstream's converter looks the type up: by
	// the kind alone (an unknown or empty one fails there, unrecorded).
	tv, err := c.TypeConverter.ObjectToTyped(obj, opts...)
	if err == nil {
		c.kinds.Store(gvk, typedKind{schema: tv.Schema(), typeRef: tv.TypeRef()})
	}
	return tv, err
}

// withoutManagedFields is obj, or when it has managedFields a shallow
// copy without them; obj itself is not changed.
func withoutManagedFields(obj runtime.Object) runtime.Object {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		md, ok := u.Object["metadata"].(map[string]any)
		if !ok || md["managedFields"] == nil {
			return obj
		}
		top := make(map[string]any, len(u.Object))
		for k, v := range u.Object {
			top[k] = v
		}
		m := make(map[string]any, len(md))
		for k, v := range md {
			if k != "managedFields" {
				m[k] = v
			}
		}
		top["metadata"] = m
		return &unstructured.Unstructured{Object: top}
	}
	acc, err := meta.Accessor(obj)
	if err != nil || len(acc.GetManagedFields()) == 0 {
		return obj
	}
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return obj
	}
	// The API types embed ObjectMeta by value, so the copy's metadata is
	// its own; any other shape keeps its managedFields.
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	f := cp.Elem().FieldByName("ObjectMeta")
	if !f.IsValid() || f.Type() != objectMetaType {
		return obj
	}
	f.Addr().Interface().(*metav1.ObjectMeta).ManagedFields = nil
	out, ok := cp.Interface().(runtime.Object)
	if !ok {
		return obj
	}
	return out
}

var objectMetaType = reflect.TypeFor[metav1.ObjectMeta]()
