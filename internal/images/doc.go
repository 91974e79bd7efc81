// Package images makes container images available without the internet.
//
// It owns three things:
//   - the built-in images (BuildBuiltins): registry.k8s.io/pause:3.10,
//     busybox:1.36 (Debian's static busybox) and the test server
//     registry.k8s.io/e2e-test-images/agnhost:2.52. The pause and test
//     server programs are the skiff binary itself, run under another name
//     (Multicall), so no toolchain is needed on a user's machine;
//   - the local registry (Registry), an OCI distribution API server whose
//     content lives on disk, which containerd uses as the mirror of the
//     public registries, and which Seed fills with the built-in images;
//   - Import of `docker save` and OCI layout archives into that registry,
//     and List of what it holds.
//
// It does not configure containerd, pull images, or run containers; the
// programs inside the images live in the pause and testserver
// subpackages.
package images
