package plugins

import corev1 "k8s.io/api/core/v1"

// tolerates says whether toleration t matches taint: same effect (or any
// when t has none), same key (or any when t has none and is Exists), and
// for Equal (the default operator) the same value.
func tolerates(t *corev1.Toleration, taint *corev1.Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case corev1.TolerationOpExists:
		return true
	case corev1.TolerationOpEqual, "":
		return t.Value == taint.Value
	}
	return false
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
