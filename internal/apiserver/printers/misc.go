package printers

import (
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// NamespaceColumns are `kubectl get namespaces` columns.
var NamespaceColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	column("Status", "string", "The namespace's phase: Active or Terminating."),
	ageColumn(),
}

// NamespaceRow gives the NamespaceColumns cells of a *corev1.Namespace.
func NamespaceRow(obj runtime.Object, now time.Time) []interface{} {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return mismatchRow(obj, NamespaceColumns)
	}
	return []interface{}{ns.Name, string(ns.Status.Phase), age(ns.CreationTimestamp, now)}
}

// ConfigMapColumns are `kubectl get configmaps` columns.
var ConfigMapColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	column("Data", "integer", "Number of keys in data and binaryData."),
	ageColumn(),
}

// ConfigMapRow gives the ConfigMapColumns cells of a *corev1.ConfigMap.
func ConfigMapRow(obj runtime.Object, now time.Time) []interface{} {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return mismatchRow(obj, ConfigMapColumns)
	}
	return []interface{}{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), age(cm.CreationTimestamp, now)}
}

// SecretColumns are `kubectl get secrets` columns.
var SecretColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	column("Type", "string", corev1.Secret{}.SwaggerDoc()["type"]),
	column("Data", "integer", "Number of keys in data."),
	ageColumn(),
}

// SecretRow gives the SecretColumns cells of a *corev1.Secret. DATA counts
// data only: stringData is folded into data when a secret is written.
func SecretRow(obj runtime.Object, now time.Time) []interface{} {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return mismatchRow(obj, SecretColumns)
	}
	return []interface{}{s.Name, string(s.Type), int64(len(s.Data)), age(s.CreationTimestamp, now)}
}

// ServiceAccountColumns are `kubectl get serviceaccounts` columns.
var ServiceAccountColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	column("Secrets", "integer", "Number of secrets the service account lists."),
	ageColumn(),
}

// ServiceAccountRow gives the ServiceAccountColumns cells of a
// *corev1.ServiceAccount.
func ServiceAccountRow(obj runtime.Object, now time.Time) []interface{} {
	sa, ok := obj.(*corev1.ServiceAccount)
	if !ok {
		return mismatchRow(obj, ServiceAccountColumns)
	}
	return []interface{}{sa.Name, int64(len(sa.Secrets)), age(sa.CreationTimestamp, now)}
}

// LeaseColumns are `kubectl get leases` columns.
var LeaseColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	column("Holder", "string", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]),
	ageColumn(),
}

// LeaseRow gives the LeaseColumns cells of a *coordinationv1.Lease; HOLDER
// is empty for a lease nobody holds.
func LeaseRow(obj runtime.Object, now time.Time) []interface{} {
	l, ok := obj.(*coordinationv1.Lease)
	if !ok {
		return mismatchRow(obj, LeaseColumns)
	}
	holder := ""
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	return []interface{}{l.Name, holder, age(l.CreationTimestamp, now)}
}
