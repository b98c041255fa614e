{
  "targets": [
    {
      "target_name": "hydranet",
      "sources": ["<!@(node tools/list-sources.js cpu)", "<!@(node tools/list-sources.js bindings)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno"],
      "cflags_cc!": ["-fno-exceptions"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "conditions": [
        ["target_arch=='x64'", {"dependencies": ["hn_avx2"], "defines": ["HN_HAVE_AVX2=1"]}]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "hn_avx2",
          "type": "static_library",
          "sources": ["<!@(node tools/list-sources.js avx2)"],
          "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-mavx2", "-mfma", "-fPIC"],
          "cflags_cc!": ["-fno-exceptions"],
          "defines": ["HN_HAVE_AVX2=1"]
        }
      ]
    }]
  ]
}
