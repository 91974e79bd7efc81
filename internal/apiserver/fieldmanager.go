package apiserver

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
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

// updateManagedFields records an update's managedFields on obj, exactly
// as fm.UpdateNoErrors(live, obj, manager) does, and returns obj.
//
// The field manager compares the whole stored object with the whole new
// one, through structured-merge-diff's reflection of both: 7.5% of the
// server's CPU in a 1,000-node churn. Most updates leave a top-level
// part as it was: a status update carries the stored spec (copied, so
// its slices and maps are the stored ones), a spec update the stored
// status, a graceful delete both, and most of the metadata stays. A part
// equal in the two objects adds nothing to the comparison (no path in it
// is added, removed or modified), and nothing else the field manager
// does on an update reads the objects but for a few metadata fields
// (metaKept): its other steps work on the managers' field sets, and
// reconciling those with the schema reads the type, not the value. So
// the field manager is given shallow copies of both objects with their
// equal parts left out, and its result, obj's new managedFields, is the
// same. For a running pod's status update that is a third less time and
// a quarter fewer allocations (BenchmarkPodStatusFieldManager).
//
// What counts as equal is reflect.DeepEqual, which is stricter than the
// comparison (it also tells nil from empty and compares caches), so a
// part the comparison would call equal may stay in, never the reverse.
// The copies are used only when every manager recorded in either object
// works in the field manager's own version (version): for another
// version the field manager compares conversions of the objects, and a
// conversion may read one part to write another.
func updateManagedFields(fm *managedfields.FieldManager, version string, live, obj runtime.Object, manager string) runtime.Object {
	l, o, ok := withoutEqualParts(live, obj, version)
	if !ok {
		return fm.UpdateNoErrors(live, obj, manager)
	}
	out, err := meta.Accessor(fm.UpdateNoErrors(l, o, manager))
	acc, err2 := meta.Accessor(obj)
	if err != nil || err2 != nil {
		return fm.UpdateNoErrors(live, obj, manager)
	}
	acc.SetManagedFields(out.GetManagedFields())
	return obj
}

// withoutEqualParts returns shallow copies of live and obj, two pointers
// to one API struct type (embedding ObjectMeta), with the parts equal in
// the two zeroed in both; ok is false when no part is equal or the
// objects do not qualify (see updateManagedFields). A part is a field of
// the object other than the embedded TypeMeta, a field of its metadata
// other than metaKept, or, when the two differ in a field that is a
// plain struct (see descendable), a field of that, to partsDepth levels:
// of a pod's status update, every status field the update leaves as it
// was. Zeroing a field in both
// copies leaves its struct present in both, as the comparison sees
// structs: a struct field is omitted only under omitzero, and
// descendable refuses those. live and obj are not changed.
func withoutEqualParts(live, obj runtime.Object, version string) (l, o runtime.Object, ok bool) {
	lv, ov := reflect.ValueOf(live), reflect.ValueOf(obj)
	if lv.Kind() != reflect.Pointer || lv.Type() != ov.Type() || lv.IsNil() || ov.IsNil() || lv.Elem().Kind() != reflect.Struct {
		return nil, nil, false
	}
	t := lv.Elem().Type()
	mf, ok := t.FieldByName("ObjectMeta")
	if !ok || !mf.Anonymous || mf.Type != objectMetaType {
		return nil, nil, false // unstructured, or a shape the API types do not have
	}
	if !managersAt(live, version) || !managersAt(obj, version) {
		return nil, nil, false
	}
	lc, oc := reflect.New(t), reflect.New(t)
	lc.Elem().Set(lv.Elem())
	oc.Elem().Set(ov.Elem())
	zeroed := zeroEqualParts(lv.Elem(), ov.Elem(), lc.Elem(), oc.Elem(), 1, nil)
	m := mf.Index
	if zeroEqualParts(lv.Elem().FieldByIndex(m), ov.Elem().FieldByIndex(m), lc.Elem().FieldByIndex(m), oc.Elem().FieldByIndex(m), partsDepth, metaKept) {
		zeroed = true
	}
	if !zeroed {
		return nil, nil, false
	}
	l, lok := lc.Interface().(runtime.Object)
	o, ook := oc.Interface().(runtime.Object)
	return l, o, lok && ook
}

// partsDepth is how deep withoutEqualParts looks for equal parts: a
// Deployment's spec.template.spec is three levels down.
const partsDepth = 3

// metaKept are the metadata fields the field manager reads on an
// update (the managers' entries, the stored object's uid, and the name
// and namespace its errors give), which withoutEqualParts keeps.
var metaKept = []string{"ManagedFields", "UID", "Name", "Namespace"}

// zeroEqualParts zeroes in lc and oc, copies of the addressable structs
// lv and ov, each exported field other than embedded ones and those
// named in keep that lv and ov hold equal, and descends into the plain
// struct fields they do not, to partsDepth. It reports whether it zeroed
// any.
func zeroEqualParts(lv, ov, lc, oc reflect.Value, depth int, keep []string) bool {
	zeroed := false
	t := lv.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous || !f.IsExported() || slices.Contains(keep, f.Name) {
			continue
		}
		lf, of := lv.Field(i), ov.Field(i)
		if lf.IsZero() && of.IsZero() {
			continue // nothing to leave out
		}
		if equalPart(lf, of) {
			lc.Field(i).SetZero()
			oc.Field(i).SetZero()
			zeroed = true
		} else if depth < partsDepth && descendable(f) {
			zeroed = zeroEqualParts(lf, of, lc.Field(i), oc.Field(i), depth+1, nil) || zeroed
		}
	}
	return zeroed
}

// equalPart reports whether two addressable values of one type are equal
// by reflect.DeepEqual, comparing scalars directly.
func equalPart(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	}
	return reflect.DeepEqual(a.Addr().Interface(), b.Addr().Interface())
}

var (
	jsonMarshalerType    = reflect.TypeFor[json.Marshaler]()
	textMarshalerType    = reflect.TypeFor[encoding.TextMarshaler]()
	unstructuredConvType = reflect.TypeFor[value.UnstructuredConverter]()
)

// descendable reports whether withoutEqualParts may zero fields inside
// the struct field f: a struct held by value, that structured-merge-diff
// reflects field by field (no marshaler of its own: zeroing IntOrString's
// shared Type while its StrVal differs would change what it says) and
// never omits (no omitzero).
func descendable(f reflect.StructField) bool {
	if f.Type.Kind() != reflect.Struct {
		return false
	}
	for _, opt := range strings.Split(f.Tag.Get("json"), ",")[1:] {
		if opt == "omitzero" {
			return false
		}
	}
	p := reflect.PointerTo(f.Type)
	return !p.Implements(jsonMarshalerType) && !p.Implements(textMarshalerType) && !p.Implements(unstructuredConvType)
}

// managersAt reports whether every managedFields entry of obj is in
// version.
func managersAt(obj runtime.Object, version string) bool {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	for _, e := range acc.GetManagedFields() {
		if e.APIVersion != version {
			return false
		}
	}
	return true
}
