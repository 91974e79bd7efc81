package kubelet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// terminatePod finishes a graceful deletion: stop probing, stop every
// container within the deletion's grace period (preStop hooks first),
// stop the sandbox, report the final status, remove everything from the
// runtime, tear down volumes, and delete the pod for good (grace 0, only
// this UID).
func (k *Kubelet) terminatePod(ctx context.Context, pod *corev1.Pod, pr *podRuntime) error {
	k.probes.RemovePod(pod.UID)
	k.stopPod(ctx, pod, pr, gracePeriodOf(pod))
	pr, err := k.readPodRuntime(ctx, pod.UID)
	if err != nil {
		return err
	}
	if err := k.postPodStatus(ctx, pod, pr, true); err != nil {
		return err
	}
	if err := k.removePodFromRuntime(ctx, pr); err != nil {
		return err
	}
	if err := k.tearDownPod(ctx, pod.UID, pod); err != nil {
		return err
	}
	zero := int64(0)
	uid := pod.UID
	err = k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	k.mu.Lock()
	if st, ok := k.pods[pod.UID]; ok {
		st.deleted = true
	}
	k.mu.Unlock()
	return nil
}

// syncTerminalPod keeps a finished pod finished: nothing runs, the
// sandbox is stopped, volumes are torn down, the status stays final.
func (k *Kubelet) syncTerminalPod(ctx context.Context, pod *corev1.Pod, pr *podRuntime) error {
	k.probes.RemovePod(pod.UID)
	if len(pr.running()) > 0 || pr.readySandbox() != nil {
		k.stopPod(ctx, pod, pr, -1)
		var err error
		if pr, err = k.readPodRuntime(ctx, pod.UID); err != nil {
			return err
		}
	}
	if err := k.postPodStatus(ctx, pod, pr, true); err != nil {
		return err
	}
	st := k.state(pod.UID, true)
	k.mu.Lock()
	done := st.tornDown
	k.mu.Unlock()
	if !done {
		if err := k.volumes.TearDown(ctx, pod.UID); err != nil {
			return fmt.Errorf("tear down volumes: %w", err)
		}
		k.mu.Lock()
		st.tornDown = true
		k.mu.Unlock()
	}
	k.gcContainers(ctx, pod, pr)
	return nil
}

// cleanupPod removes whatever the runtime still holds for a pod the API
// server no longer has (force-deleted, or never known: an orphan), then
// forgets it. pod is its last known version, or nil.
func (k *Kubelet) cleanupPod(ctx context.Context, uid types.UID, pod *corev1.Pod, pr *podRuntime) error {
	k.probes.RemovePod(uid)
	if !pr.empty() {
		if pod == nil {
			k.log.Info("removing containers of a pod the API server does not have", "podUID", uid,
				"sandboxes", len(pr.sandboxes), "containers", len(pr.containers))
		}
		k.stopPod(ctx, pod, pr, minGracePeriod)
		if err := k.removePodFromRuntime(ctx, pr); err != nil {
			return err
		}
	}
	if err := k.tearDownPod(ctx, uid, pod); err != nil {
		return err
	}
	k.mu.Lock()
	delete(k.pods, uid)
	k.mu.Unlock()
	k.workers.Forget(uid)
	k.crashBack.ForgetPrefix(string(uid) + "/")
	k.pullBack.ForgetPrefix(string(uid) + "/")
	return nil
}

// removePodFromRuntime removes the pod's containers and sandboxes.
func (k *Kubelet) removePodFromRuntime(ctx context.Context, pr *podRuntime) error {
	for _, c := range pr.containers {
		if err := k.runtime.RemoveContainer(ctx, c.Id); err != nil && status.Code(err) != codes.NotFound {
			return fmt.Errorf("remove container %s: %w", c.Id, err)
		}
	}
	for _, sb := range pr.sandboxes {
		if err := k.runtime.StopPodSandbox(ctx, sb.Id); err != nil && status.Code(err) != codes.NotFound {
			return fmt.Errorf("stop sandbox %s: %w", sb.Id, err)
		}
		if err := k.runtime.RemovePodSandbox(ctx, sb.Id); err != nil && status.Code(err) != codes.NotFound {
			return fmt.Errorf("remove sandbox %s: %w", sb.Id, err)
		}
	}
	return nil
}

// tearDownPod removes the pod's volumes and the kubelet's files for it
// (hosts file, termination messages, logs).
func (k *Kubelet) tearDownPod(ctx context.Context, uid types.UID, pod *corev1.Pod) error {
	if err := k.volumes.TearDown(ctx, uid); err != nil {
		return fmt.Errorf("tear down volumes: %w", err)
	}
	if k.cfg.Hollow {
		return nil
	}
	if err := os.RemoveAll(k.podDir(string(uid))); err != nil {
		return err
	}
	removePodCgroups(k.cfg.CgroupRoot, uid)
	if pod != nil {
		if err := os.RemoveAll(k.podLogDir(pod)); err != nil {
			return err
		}
	}
	return nil
}

// cgroupfsRoot is where the cgroup v1 hierarchies are mounted.
const cgroupfsRoot = "/sys/fs/cgroup"

// removePodCgroups removes the pod's cgroup in every hierarchy once its
// containers are gone: runc creates the pod level as the parent of the
// sandbox's cgroup and leaves it, as upstream's kubelet housekeeping
// would otherwise. The pod's QoS class may be unknown (an orphan), so
// every QoS parent is tried; a cgroup still in use stays (rmdir fails).
func removePodCgroups(root string, uid types.UID) {
	hierarchies, err := os.ReadDir(cgroupfsRoot)
	if err != nil {
		return
	}
	name := "pod" + string(uid)
	for _, h := range hierarchies {
		if !h.IsDir() {
			continue // cpu -> cpu,cpuacct and the like
		}
		for _, parent := range []string{"", "besteffort", "burstable"} {
			_ = os.Remove(filepath.Join(cgroupfsRoot, h.Name(), strings.TrimPrefix(root, "/"), parent, name))
		}
	}
}
