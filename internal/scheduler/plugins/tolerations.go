package plugins

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// tolerates says whether toleration t matches taint, by the API's own
// rule (effect, key, Exists or Equal value); the comparison operators,
// behind a feature gate upstream, stay off.
func tolerates(t *corev1.Toleration, taint *corev1.Taint) bool {
	return t.ToleratesTaint(klog.Background(), taint, false)
}

// toleratedBy says whether any of ts tolerates taint.
func toleratedBy(ts []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range ts {
		if tolerates(&ts[i], taint) {
			return true
		}
	}
	return false
}
