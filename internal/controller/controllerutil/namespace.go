package controllerutil

import corev1 "k8s.io/api/core/v1"

// NamespaceActive reports whether objects may still be made in ns: it is
// neither being deleted nor Terminating.
func NamespaceActive(ns *corev1.Namespace) bool {
	return ns.DeletionTimestamp == nil && ns.Status.Phase != corev1.NamespaceTerminating
}
