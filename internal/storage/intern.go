package storage

import (
	"bytes"
	"hash/maphash"
	"maps"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// interner makes the objects a watch cache holds share their equal
// pieces. Decoding gives every object its own copy of everything, yet the
// pods of one ReplicaSet have the same labels, owner references, resource
// requests and the controller's managedFields entry, and every pod the
// same handful of strings; at 150,000 pods those copies were over a
// gigabyte of the server's heap. After decoding, compact points each such
// piece at an equal one already held, and the decoded copy is garbage.
//
// Sharing is safe because the cache's objects are never modified (readers
// get them on the same terms as client-go's informer caches, and the
// store copies one before an update changes it); a piece one object
// shares with others is read-only like the rest of it.
//
// The tables remember recently seen values, by content, and are emptied
// when they grow past tableLimit, so a value no object holds any more is
// kept at most until then. A value missed because its table was just
// emptied is only not shared.
type interner struct {
	mu      sync.Mutex
	seed    maphash.Seed
	strs    map[string]string
	strMaps map[uint64]map[string]string
	raws    map[uint64][]byte
	owners  map[uint64][]metav1.OwnerReference
	lists   map[uint64]corev1.ResourceList
	tols    map[uint64][]corev1.Toleration
}

// tableLimit bounds each table: enough for the distinct label sets,
// owners and templates of a large cluster's recent changes.
const tableLimit = 1 << 16

func newInterner() *interner {
	return &interner{
		seed:    maphash.MakeSeed(),
		strs:    map[string]string{},
		strMaps: map[uint64]map[string]string{},
		raws:    map[uint64][]byte{},
		owners:  map[uint64][]metav1.OwnerReference{},
		lists:   map[uint64]corev1.ResourceList{},
		tols:    map[uint64][]corev1.Toleration{},
	}
}

// compact makes obj, freshly decoded and not yet shared, point at equal
// pieces already held. A nil interner leaves obj alone.
func (in *interner) compact(obj runtime.Object) {
	if in == nil {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if acc, ok := obj.(metav1.ObjectMetaAccessor); ok {
		if om, ok := acc.GetObjectMeta().(*metav1.ObjectMeta); ok {
			in.objectMeta(om)
		}
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		in.podSpec(&pod.Spec)
		in.podStatus(&pod.Status)
	}
}

func (in *interner) objectMeta(om *metav1.ObjectMeta) {
	om.Namespace = in.str(om.Namespace)
	om.GenerateName = in.str(om.GenerateName)
	om.Labels = in.strMap(om.Labels)
	om.Annotations = in.strMap(om.Annotations)
	om.OwnerReferences = in.ownerRefs(om.OwnerReferences)
	for i := range om.Finalizers {
		om.Finalizers[i] = in.str(om.Finalizers[i])
	}
	for i := range om.ManagedFields {
		e := &om.ManagedFields[i]
		e.Manager = in.str(e.Manager)
		e.Operation = metav1.ManagedFieldsOperationType(in.str(string(e.Operation)))
		e.APIVersion = in.str(e.APIVersion)
		e.FieldsType = in.str(e.FieldsType)
		e.Subresource = in.str(e.Subresource)
		if e.FieldsV1 != nil {
			e.FieldsV1.Raw = in.raw(e.FieldsV1.Raw)
		}
	}
}

func (in *interner) podSpec(spec *corev1.PodSpec) {
	spec.NodeName = in.str(spec.NodeName)
	spec.SchedulerName = in.str(spec.SchedulerName)
	spec.ServiceAccountName = in.str(spec.ServiceAccountName)
	spec.DeprecatedServiceAccount = in.str(spec.DeprecatedServiceAccount)
	spec.RestartPolicy = corev1.RestartPolicy(in.str(string(spec.RestartPolicy)))
	spec.DNSPolicy = corev1.DNSPolicy(in.str(string(spec.DNSPolicy)))
	spec.PriorityClassName = in.str(spec.PriorityClassName)
	spec.NodeSelector = in.strMap(spec.NodeSelector)
	spec.Tolerations = in.tolerations(spec.Tolerations)
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			in.container(&cs[i])
		}
	}
	spec.Overhead = in.resourceList(spec.Overhead)
}

func (in *interner) container(c *corev1.Container) {
	c.Name = in.str(c.Name)
	c.Image = in.str(c.Image)
	c.ImagePullPolicy = corev1.PullPolicy(in.str(string(c.ImagePullPolicy)))
	c.TerminationMessagePath = in.str(c.TerminationMessagePath)
	c.TerminationMessagePolicy = corev1.TerminationMessagePolicy(in.str(string(c.TerminationMessagePolicy)))
	c.Resources.Requests = in.resourceList(c.Resources.Requests)
	c.Resources.Limits = in.resourceList(c.Resources.Limits)
	for i := range c.VolumeMounts {
		c.VolumeMounts[i].MountPath = in.str(c.VolumeMounts[i].MountPath)
	}
}

func (in *interner) podStatus(st *corev1.PodStatus) {
	st.HostIP = in.str(st.HostIP)
	st.QOSClass = corev1.PodQOSClass(in.str(string(st.QOSClass)))
	// Decoding grows these slices by appending; keep only their length.
	st.Conditions = clone(st.Conditions)
	st.ContainerStatuses = clone(st.ContainerStatuses)
	for i := range st.Conditions {
		c := &st.Conditions[i]
		c.Type = corev1.PodConditionType(in.str(string(c.Type)))
		c.Status = corev1.ConditionStatus(in.str(string(c.Status)))
	}
	for i := range st.ContainerStatuses {
		c := &st.ContainerStatuses[i]
		c.Name = in.str(c.Name)
		c.Image = in.str(c.Image)
		c.ImageID = in.str(c.ImageID)
		c.AllocatedResources = in.resourceList(c.AllocatedResources)
	}
	for i := range st.HostIPs {
		st.HostIPs[i].IP = in.str(st.HostIPs[i].IP)
	}
}

// clone is s in an array of exactly its length, when appends left spare
// capacity.
func clone[T any](s []T) []T {
	if cap(s) == len(s) {
		return s
	}
	return slices.Clone(s)
}

func (in *interner) str(s string) string {
	if s == "" {
		return s
	}
	if v, ok := in.strs[s]; ok {
		return v
	}
	if len(in.strs) >= tableLimit {
		clear(in.strs)
	}
	in.strs[s] = s
	return s
}

// share is v, or an equal value already in table under hash h (equal
// decides). A value not found is recorded, as own(v) when own is set (to
// keep a copy of exactly its length); a full table is emptied first.
func share[T any](table map[uint64]T, h uint64, v T, equal func(a, b T) bool, own func(T) T) T {
	if old, ok := table[h]; ok && equal(old, v) {
		return old
	}
	if len(table) >= tableLimit {
		clear(table)
	}
	if own != nil {
		v = own(v)
	}
	table[h] = v
	return v
}

// strMap is m or an equal map already held.
func (in *interner) strMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	var h uint64
	for k, v := range m {
		// Order-independent: a sum of the entries' hashes.
		h += maphash.String(in.seed, k)*31 ^ maphash.String(in.seed, v)
	}
	return share(in.strMaps, h, m, maps.Equal, nil)
}

func (in *interner) raw(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	return share(in.raws, maphash.Bytes(in.seed, b), b, bytes.Equal, nil)
}

func (in *interner) ownerRefs(refs []metav1.OwnerReference) []metav1.OwnerReference {
	if len(refs) == 0 {
		return refs
	}
	var mh maphash.Hash
	mh.SetSeed(in.seed)
	for _, r := range refs {
		mh.WriteString(r.APIVersion)
		mh.WriteString(r.Kind)
		mh.WriteString(r.Name)
		mh.WriteString(string(r.UID))
	}
	return share(in.owners, mh.Sum64(), refs, func(a, b []metav1.OwnerReference) bool {
		return slices.EqualFunc(a, b, sameOwnerRef)
	}, clone)
}

func sameOwnerRef(a, b metav1.OwnerReference) bool {
	return a.APIVersion == b.APIVersion && a.Kind == b.Kind && a.Name == b.Name && a.UID == b.UID &&
		samePtr(a.Controller, b.Controller) && samePtr(a.BlockOwnerDeletion, b.BlockOwnerDeletion)
}

// samePtr: both nil, or both pointing at equal values.
func samePtr[T comparable](a, b *T) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// resourceList is l or an equal list already held: the same quantities in
// the same formats, so it serializes the same.
func (in *interner) resourceList(l corev1.ResourceList) corev1.ResourceList {
	if len(l) == 0 {
		return l
	}
	var h uint64
	for k, q := range l {
		h += maphash.String(in.seed, string(k))*31 ^ uint64(q.MilliValue())
	}
	return share(in.lists, h, l, sameResourceList, nil)
}

func sameResourceList(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, qa := range a {
		qb, ok := b[k]
		if !ok || qa.Format != qb.Format || qa.Cmp(qb) != 0 {
			return false
		}
	}
	return true
}

func (in *interner) tolerations(ts []corev1.Toleration) []corev1.Toleration {
	if len(ts) == 0 {
		return ts
	}
	var mh maphash.Hash
	mh.SetSeed(in.seed)
	for _, t := range ts {
		mh.WriteString(t.Key)
		mh.WriteString(string(t.Operator))
		mh.WriteString(t.Value)
		mh.WriteString(string(t.Effect))
	}
	return share(in.tols, mh.Sum64(), ts, func(a, b []corev1.Toleration) bool {
		return slices.EqualFunc(a, b, sameToleration)
	}, clone)
}

func sameToleration(a, b corev1.Toleration) bool {
	return a.Key == b.Key && a.Operator == b.Operator && a.Value == b.Value && a.Effect == b.Effect &&
		samePtr(a.TolerationSeconds, b.TolerationSeconds)
}
