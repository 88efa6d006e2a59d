#!/usr/bin/env bash
# Regenerates the podman/buildah/skopeo outputs in this folder (Debian 12, root,
# no daemon). Needs: a CNCF distribution registry on $REG (plain http), podman,
# buildah, skopeo. Every command below is recorded in ../PROVENANCE.json; the
# output files are kept byte for byte as the tools wrote them.
#   REG=127.0.0.1:5077 WORK=/tmp/h8gen ./generate.sh
set -euo pipefail
REG=${REG:?registry host:port}
WORK=${WORK:?scratch dir}
OUT=$(cd "$(dirname "$0")" && pwd)
S=(--root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
export REGISTRY_AUTH_FILE="$WORK/auth.json" CONTAINERS_REGISTRIES_CONF="$WORK/registries.conf"
printf '{}' > "$REGISTRY_AUTH_FILE"
printf 'unqualified-search-registries = []\n' > "$CONTAINERS_REGISTRIES_CONF"
cd "$WORK"
rm -rf "$OUT"/layouts && mkdir -p "$OUT"/layouts

# Two tiny images built from scratch with buildah (amd64 and arm64 configs).
printf 'hello from truedigest realworld corpus\n' > hello.txt
for arch in amd64 arm64; do
  ctr=$(buildah "${S[@]}" from --arch "$arch" scratch)
  buildah "${S[@]}" copy "$ctr" hello.txt /hello.txt >/dev/null
  buildah "${S[@]}" config --arch "$arch" --os linux --cmd '["/hello"]' \
    --label org.opencontainers.image.source=https://example.invalid/truedigest-corpus "$ctr"
  buildah "${S[@]}" commit --timestamp 0 "$ctr" "localhost/corpus/app:$arch" > "commit-$arch.id"
done

# buildah push, OCI format (its default) and Docker v2s2, each with --digestfile.
buildah "${S[@]}" push --tls-verify=false --digestfile "$OUT/buildah-push-oci.digest" \
  localhost/corpus/app:amd64 "docker://$REG/corpus/app:buildah-oci" > "$OUT/buildah-push-oci.log" 2>&1
buildah "${S[@]}" push --tls-verify=false --format v2s2 --digestfile "$OUT/buildah-push-v2s2.digest" \
  localhost/corpus/app:amd64 "docker://$REG/corpus/app:buildah-v2s2" > "$OUT/buildah-push-v2s2.log" 2>&1

# podman push, default and v2s2, two tags.
podman "${S[@]}" push --tls-verify=false --digestfile "$OUT/podman-push.digest" \
  localhost/corpus/app:amd64 "docker://$REG/corpus/app:podman" > "$OUT/podman-push.log" 2>&1
podman "${S[@]}" push --tls-verify=false --format v2s2 --digestfile "$OUT/podman-push-v2s2.digest" \
  localhost/corpus/app:arm64 "docker://$REG/corpus/app:podman-v2s2" > "$OUT/podman-push-v2s2.log" 2>&1

# podman manifest (an OCI index of both architectures) pushed with --all.
podman "${S[@]}" manifest create localhost/corpus/app:multi > /dev/null
podman "${S[@]}" manifest add localhost/corpus/app:multi containers-storage:localhost/corpus/app:amd64 > /dev/null
podman "${S[@]}" manifest add localhost/corpus/app:multi containers-storage:localhost/corpus/app:arm64 > /dev/null
podman "${S[@]}" manifest push --all --tls-verify=false --digestfile "$OUT/podman-manifest-push.digest" \
  localhost/corpus/app:multi "docker://$REG/corpus/app:multi" > "$OUT/podman-manifest-push.log" 2>&1

# skopeo copy registry -> registry with --digestfile.
skopeo copy --src-tls-verify=false --dest-tls-verify=false --digestfile "$OUT/skopeo-copy.digest" \
  "docker://$REG/corpus/app:podman" "docker://$REG/corpus/app:skopeo-copy" > "$OUT/skopeo-copy.log" 2>&1

# OCI layouts: skopeo (an OCI image kept as is, a v2s2 image converted, an index) and buildah.
skopeo copy --src-tls-verify=false "docker://$REG/corpus/app:buildah-oci" \
  "oci:$OUT/layouts/skopeo-oci:buildah-oci" > "$OUT/layouts/skopeo-oci.log" 2>&1
skopeo copy --src-tls-verify=false "docker://$REG/corpus/app:podman-v2s2" \
  "oci:$OUT/layouts/skopeo-oci:podman-v2s2" >> "$OUT/layouts/skopeo-oci.log" 2>&1
skopeo copy --src-tls-verify=false --all "docker://$REG/corpus/app:multi" \
  "oci:$OUT/layouts/skopeo-index:multi" > "$OUT/layouts/skopeo-index.log" 2>&1
buildah "${S[@]}" push localhost/corpus/app:amd64 "oci:$OUT/layouts/buildah-oci:latest" \
  > "$OUT/layouts/buildah-oci.log" 2>&1

# podman build log (ends with the image ID, not a registry digest).
mkdir -p ctx && cp hello.txt ctx/ && printf 'FROM scratch\nCOPY hello.txt /hello.txt\n' > ctx/Containerfile
podman "${S[@]}" build --timestamp 0 -t localhost/corpus/built:1 ctx > "$OUT/podman-build.log" 2>&1

# What the registry serves for each pushed tag (skopeo as the oracle).
for tag in buildah-oci buildah-v2s2 podman podman-v2s2 multi skopeo-copy; do
  printf '%s %s\n' "$tag" "$(skopeo inspect --tls-verify=false --raw "docker://$REG/corpus/app:$tag" | sha256sum | cut -d' ' -f1)"
done > "$OUT/registry-digests.txt"
# Every pushed image, byte for byte, as an OCI layout the tests push back.
for tag in buildah-oci buildah-v2s2 podman podman-v2s2 multi skopeo-copy; do
  skopeo copy --all --preserve-digests --src-tls-verify=false \
    "docker://$REG/corpus/app:$tag" "oci:$OUT/layouts/pushed:$tag" >/dev/null
done
