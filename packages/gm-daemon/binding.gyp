{
  "targets": [
    {
      "target_name": "gdoi_native",
      "sources": ["native/tun.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
