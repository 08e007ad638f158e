{
  "targets": [
    {
      "target_name": "gdoi_native",
      "sources": ["native/tun.c", "native/esp.c", "native/offload.c", "native/esp-socket.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
