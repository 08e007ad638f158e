// In-place ESP seal/open on OpenSSL (the copy Node.js is linked with; its symbols are resolved from the
// node binary at load time). One context per SA: the cipher is fetched once, two EVP_CIPHER_CTX (encrypt,
// decrypt) are keyed once and only re-IV'd per packet, and HMAC runs from precomputed ipad/opad digest
// states, so a packet costs no allocation and no key schedule. Semantics match
// packages/gdoi-wire/src/esp/esp.ts (the reference the tests compare against).
//
// Buffer layout (offsets relative to `esp`, the SPI):
//   [0,8) SPI‖Seq  [8,8+iv) IV  [8+iv, 8+iv+payload) inner packet  then Pad‖PadLen‖NextHdr, then ICV.
// The caller writes SPI, Seq and IV (for CBC, pass ivRandom=1 and the IV comes from OpenSSL's DRBG here).
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "napi-util.h"

enum { MODE_CBC = 0, MODE_GCM = 1, MODE_CTR = 2, MODE_GMAC = 3, MODE_NULL = 4 };
enum { H_NONE = 0, H_MD5 = 1, H_SHA1 = 2, H_SHA256 = 3, H_SHA384 = 4, H_SHA512 = 5 };
enum { R_AUTH = -1, R_MALFORMED = -2, R_ROOM = -3, R_CRYPTO = -4, R_DEAD = -5 };

typedef union {
  MD5_CTX md5;
  SHA_CTX sha1;
  SHA256_CTX sha256;
  SHA512_CTX sha512;
} hash_state;

typedef struct {
  int alg;
  int digest_len;
  hash_state inner, outer;  // after absorbing K0^ipad / K0^opad
} hmac_key;

#define IV_POOL_BYTES 4096

typedef struct {
  int mode, iv_len, block, icv, salt_len, alive;
  int iv_pos;  // next unused octet of iv_pool (IV_POOL_BYTES = empty)
  unsigned char salt[4];
  // CBC IVs: RAND_bytes costs ~1 µs per call in OpenSSL 3.0, so draw 4 KB at a time (256 AES IVs).
  // The pool is as unpredictable as per-packet draws; it is wiped with the keys.
  unsigned char iv_pool[IV_POOL_BYTES];
  EVP_CIPHER *cipher;
  EVP_CIPHER_CTX *enc, *dec;
  hmac_key hmac;
} esp_sa;

static void h_init(int alg, hash_state *s) {
  switch (alg) {
    case H_MD5: MD5_Init(&s->md5); break;
    case H_SHA1: SHA1_Init(&s->sha1); break;
    case H_SHA256: SHA256_Init(&s->sha256); break;
    case H_SHA384: SHA384_Init(&s->sha512); break;
    case H_SHA512: SHA512_Init(&s->sha512); break;
  }
}
static void h_update(int alg, hash_state *s, const unsigned char *d, size_t n) {
  switch (alg) {
    case H_MD5: MD5_Update(&s->md5, d, n); break;
    case H_SHA1: SHA1_Update(&s->sha1, d, n); break;
    case H_SHA256: SHA256_Update(&s->sha256, d, n); break;
    case H_SHA384: SHA384_Update(&s->sha512, d, n); break;
    case H_SHA512: SHA512_Update(&s->sha512, d, n); break;
  }
}
static void h_final(int alg, hash_state *s, unsigned char *out) {
  switch (alg) {
    case H_MD5: MD5_Final(out, &s->md5); break;
    case H_SHA1: SHA1_Final(out, &s->sha1); break;
    case H_SHA256: SHA256_Final(out, &s->sha256); break;
    case H_SHA384: SHA384_Final(out, &s->sha512); break;
    case H_SHA512: SHA512_Final(out, &s->sha512); break;
  }
}
static int h_digest_len(int alg) {
  static const int len[] = {0, 16, 20, 32, 48, 64};
  return alg >= 0 && alg <= 5 ? len[alg] : 0;
}
static int h_block_len(int alg) { return alg == H_SHA384 || alg == H_SHA512 ? 128 : 64; }

static void hmac_setup(hmac_key *h, int alg, const unsigned char *key, size_t key_len) {
  unsigned char k0[128], pad[128];
  int bl = h_block_len(alg);
  memset(k0, 0, sizeof k0);
  h->alg = alg;
  h->digest_len = h_digest_len(alg);
  if (key_len > (size_t)bl) {
    hash_state s;
    h_init(alg, &s);
    h_update(alg, &s, key, key_len);
    h_final(alg, &s, k0);
    OPENSSL_cleanse(&s, sizeof s);
  } else {
    memcpy(k0, key, key_len);
  }
  for (int i = 0; i < bl; i++) pad[i] = k0[i] ^ 0x36;
  h_init(alg, &h->inner);
  h_update(alg, &h->inner, pad, (size_t)bl);
  for (int i = 0; i < bl; i++) pad[i] = k0[i] ^ 0x5c;
  h_init(alg, &h->outer);
  h_update(alg, &h->outer, pad, (size_t)bl);
  OPENSSL_cleanse(k0, sizeof k0);
  OPENSSL_cleanse(pad, sizeof pad);
}

static void hmac_compute(const hmac_key *h, const unsigned char *d, size_t n, unsigned char *mac) {
  hash_state s = h->inner;
  unsigned char dg[64];
  h_update(h->alg, &s, d, n);
  h_final(h->alg, &s, dg);
  s = h->outer;
  h_update(h->alg, &s, dg, (size_t)h->digest_len);
  h_final(h->alg, &s, mac);
  OPENSSL_cleanse(&s, sizeof s);
}

static void sa_destroy(esp_sa *sa) {
  if (!sa->alive) return;
  sa->alive = 0;
  EVP_CIPHER_CTX_free(sa->enc);  // clears the key schedule
  EVP_CIPHER_CTX_free(sa->dec);
  EVP_CIPHER_free(sa->cipher);
  sa->enc = sa->dec = NULL;
  sa->cipher = NULL;
  OPENSSL_cleanse(&sa->hmac, sizeof sa->hmac);
  OPENSSL_cleanse(sa->salt, sizeof sa->salt);
  OPENSSL_cleanse(sa->iv_pool, sizeof sa->iv_pool);
  sa->iv_pos = IV_POOL_BYTES;
}

static void sa_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  sa_destroy(data);
  free(data);
}

static esp_sa *get_sa(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, "ERR_NATIVE_ARGS", "expected an ESP SA handle");
    return NULL;
  }
  return p;
}

// espNew(mode, cipherName, encKey (key‖salt), saltBytes, ivBytes, blockBytes, icvBytes, hmacAlg, authKey) → handle
static napi_value EspNew(napi_env env, napi_callback_info info) {
  ARGS(env, info, 9);
  int32_t mode, salt_len, iv_len, block, icv, halg;
  char cname[64] = {0};
  size_t n = 0, key_len = 0, auth_len = 0;
  uint8_t *key, *auth;
  napi_valuetype vt;
  if (gdoi_get_i32(env, argv[0], &mode)) return NULL;
  NAPI_CALL(env, napi_typeof(env, argv[1], &vt));
  if (vt == napi_string) NAPI_CALL(env, napi_get_value_string_utf8(env, argv[1], cname, sizeof cname, &n));
  if (gdoi_get_u8(env, argv[2], &key, &key_len) || gdoi_get_i32(env, argv[3], &salt_len) ||
      gdoi_get_i32(env, argv[4], &iv_len) || gdoi_get_i32(env, argv[5], &block) ||
      gdoi_get_i32(env, argv[6], &icv) || gdoi_get_i32(env, argv[7], &halg) ||
      gdoi_get_u8(env, argv[8], &auth, &auth_len)) return NULL;
  if (mode < MODE_CBC || mode > MODE_NULL || salt_len < 0 || salt_len > 4 || (size_t)salt_len > key_len ||
      iv_len < 0 || iv_len > 16 || block < 1 || block > 16 || icv < 0 || icv > 32 || halg < H_NONE || halg > H_SHA512 ||
      (halg != H_NONE && icv > h_digest_len(halg)) || ((mode == MODE_GCM || mode == MODE_GMAC) && (halg != H_NONE || icv < 8 || icv > 16)) ||
      ((mode == MODE_CBC || mode == MODE_CTR || mode == MODE_NULL) && halg == H_NONE)) {
    napi_throw_range_error(env, "ERR_NATIVE_ARGS", "espNew: inconsistent suite");
    return NULL;
  }
  esp_sa *sa = calloc(1, sizeof *sa);
  if (!sa) {
    napi_throw_error(env, "ERR_NATIVE", "out of memory");
    return NULL;
  }
  sa->mode = mode;
  sa->iv_len = iv_len;
  sa->block = block;
  sa->icv = icv;
  sa->salt_len = salt_len;
  sa->alive = 1;
  sa->iv_pos = IV_POOL_BYTES;
  size_t ck_len = key_len - (size_t)salt_len;
  memcpy(sa->salt, key + ck_len, (size_t)salt_len);
  if (halg != H_NONE) hmac_setup(&sa->hmac, halg, auth, auth_len);
  if (mode != MODE_NULL) {
    sa->cipher = EVP_CIPHER_fetch(NULL, cname, NULL);
    sa->enc = EVP_CIPHER_CTX_new();
    sa->dec = EVP_CIPHER_CTX_new();
    int ok = sa->cipher && sa->enc && sa->dec && (size_t)EVP_CIPHER_get_key_length(sa->cipher) == ck_len &&
             EVP_CipherInit_ex2(sa->enc, sa->cipher, key, NULL, 1, NULL) == 1 &&
             EVP_CipherInit_ex2(sa->dec, sa->cipher, key, NULL, 0, NULL) == 1 &&
             EVP_CIPHER_CTX_set_padding(sa->enc, 0) == 1 && EVP_CIPHER_CTX_set_padding(sa->dec, 0) == 1;
    if (!ok) {
      sa_destroy(sa);
      free(sa);
      napi_throw_error(env, "ERR_NATIVE_CRYPTO", "espNew: OpenSSL refused the cipher or key");
      return NULL;
    }
  }
  napi_value ext;
  if (napi_create_external(env, sa, sa_finalize, NULL, &ext) != napi_ok) {
    sa_destroy(sa);
    free(sa);
    gdoi_throw_last(env, "espNew");
    return NULL;
  }
  return ext;
}

// espFree(handle): zeroes and frees the key material now (the handle stays valid but dead).
static napi_value EspFree(napi_env env, napi_callback_info info) {
  ARGS(env, info, 1);
  esp_sa *sa = get_sa(env, argv[0]);
  if (!sa) return NULL;
  sa_destroy(sa);
  return gdoi_int(env, 0);
}

static void nonce(const esp_sa *sa, const unsigned char *iv, unsigned char *out) {
  memcpy(out, sa->salt, (size_t)sa->salt_len);
  memcpy(out + sa->salt_len, iv, (size_t)sa->iv_len);
  if (sa->mode == MODE_CTR) {
    unsigned char *c = out + sa->salt_len + sa->iv_len;
    c[0] = 0, c[1] = 0, c[2] = 0, c[3] = 1;
  }
}

// Gets (set = 0) or sets (set = 1) the AEAD tag through the provider's parameters directly:
// EVP_CIPHER_CTX_ctrl(EVP_CTRL_AEAD_GET_TAG / SET_TAG) builds the same OSSL_PARAM array after a
// translation step, ~15-30 ns more per packet on OpenSSL 3.0 (measured at 1400 octets: 430 → 416 ns).
static int aead_tag(EVP_CIPHER_CTX *ctx, int set, unsigned char *tag, int len) {
  OSSL_PARAM params[2];
  params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, (size_t)len);
  params[1] = OSSL_PARAM_construct_end();
  return set ? EVP_CIPHER_CTX_set_params(ctx, params) : EVP_CIPHER_CTX_get_params(ctx, params);
}

static int seal(esp_sa *sa, unsigned char *esp, size_t room, int payload, int next_header, int iv_random) {
  if (!sa->alive) return R_DEAD;
  int hdr = 8 + sa->iv_len;
  int r = (payload + 2) % sa->block;
  int pad = r ? sa->block - r : 0;
  int enc_len = payload + pad + 2;
  size_t total = (size_t)hdr + (size_t)enc_len + (size_t)sa->icv;
  if (payload < 0 || total > room) return R_ROOM;
  unsigned char *iv = esp + 8, *p = esp + hdr, *t = p + payload;
  for (int i = 1; i <= pad; i++) t[i - 1] = (unsigned char)i;
  t[pad] = (unsigned char)pad;
  t[pad + 1] = (unsigned char)next_header;
  if (iv_random && sa->iv_len) {
    if (sa->iv_pos + sa->iv_len > IV_POOL_BYTES) {
      if (RAND_bytes(sa->iv_pool, IV_POOL_BYTES) != 1) return R_CRYPTO;
      sa->iv_pos = 0;
    }
    memcpy(iv, sa->iv_pool + sa->iv_pos, (size_t)sa->iv_len);
    sa->iv_pos += sa->iv_len;
  }
  unsigned char nc[16], tag[64];
  int outl = 0, fl = 0;
  switch (sa->mode) {
    case MODE_CBC:
    case MODE_CTR:
      if (sa->mode == MODE_CTR) nonce(sa, iv, nc);
      if (EVP_CipherInit_ex2(sa->enc, NULL, NULL, sa->mode == MODE_CTR ? nc : iv, -1, NULL) != 1 ||
          EVP_CipherUpdate(sa->enc, p, &outl, p, enc_len) != 1 || EVP_CipherFinal_ex(sa->enc, p + outl, &fl) != 1 ||
          outl + fl != enc_len) return R_CRYPTO;
      /* fall through */
    case MODE_NULL:
      hmac_compute(&sa->hmac, esp, (size_t)(hdr + enc_len), tag);
      memcpy(p + enc_len, tag, (size_t)sa->icv);
      return (int)total;
    case MODE_GCM:
    case MODE_GMAC:
      nonce(sa, iv, nc);
      if (EVP_CipherInit_ex2(sa->enc, NULL, NULL, nc, -1, NULL) != 1) return R_CRYPTO;
      if (sa->mode == MODE_GCM) {
        if (EVP_CipherUpdate(sa->enc, NULL, &outl, esp, 8) != 1 || EVP_CipherUpdate(sa->enc, p, &outl, p, enc_len) != 1 ||
            outl != enc_len) return R_CRYPTO;
      } else if (EVP_CipherUpdate(sa->enc, NULL, &outl, esp, hdr + enc_len) != 1) {
        return R_CRYPTO;
      }
      if (EVP_CipherFinal_ex(sa->enc, tag, &fl) != 1 || aead_tag(sa->enc, 0, p + enc_len, sa->icv) != 1) return R_CRYPTO;
      return (int)total;
  }
  return R_CRYPTO;
}

// Returns inner length + 65536 * next header, or R_AUTH / R_MALFORMED.
static int open_esp(esp_sa *sa, unsigned char *esp, int len) {
  if (!sa->alive) return R_DEAD;
  int hdr = 8 + sa->iv_len;
  int enc_len = len - hdr - sa->icv;
  if (enc_len < 2 || enc_len % sa->block != 0) return R_MALFORMED;
  unsigned char *iv = esp + 8, *p = esp + hdr, *icv = p + enc_len;
  unsigned char nc[16], tag[64];
  int outl = 0, fl = 0;
  switch (sa->mode) {
    case MODE_CBC:
    case MODE_CTR:
    case MODE_NULL:
      hmac_compute(&sa->hmac, esp, (size_t)(hdr + enc_len), tag);
      if (CRYPTO_memcmp(tag, icv, (size_t)sa->icv) != 0) return R_AUTH;
      if (sa->mode == MODE_NULL) break;
      if (sa->mode == MODE_CTR) nonce(sa, iv, nc);
      if (EVP_CipherInit_ex2(sa->dec, NULL, NULL, sa->mode == MODE_CTR ? nc : iv, -1, NULL) != 1 ||
          EVP_CipherUpdate(sa->dec, p, &outl, p, enc_len) != 1 || EVP_CipherFinal_ex(sa->dec, p + outl, &fl) != 1 ||
          outl + fl != enc_len) return R_CRYPTO;
      break;
    case MODE_GCM:
    case MODE_GMAC:
      nonce(sa, iv, nc);
      if (EVP_CipherInit_ex2(sa->dec, NULL, NULL, nc, -1, NULL) != 1 || aead_tag(sa->dec, 1, icv, sa->icv) != 1)
        return R_CRYPTO;
      if (sa->mode == MODE_GCM) {
        if (EVP_CipherUpdate(sa->dec, NULL, &outl, esp, 8) != 1 || EVP_CipherUpdate(sa->dec, p, &outl, p, enc_len) != 1)
          return R_CRYPTO;
      } else if (EVP_CipherUpdate(sa->dec, NULL, &outl, esp, hdr + enc_len) != 1) {
        return R_CRYPTO;
      }
      if (EVP_CipherFinal_ex(sa->dec, tag, &fl) != 1) return R_AUTH;
      break;
  }
  int pad = p[enc_len - 2], nh = p[enc_len - 1];
  int inner = enc_len - 2 - pad;
  if (inner < 0) return R_MALFORMED;
  for (int i = 1; i <= pad; i++)
    if (p[inner + i - 1] != i) return R_MALFORMED;
  return inner + 65536 * nh;
}

// espSeal(handle, buf, espOffset, payloadBytes, nextHeader, ivRandom) → ESP length | negative code
static napi_value EspSeal(napi_env env, napi_callback_info info) {
  ARGS(env, info, 6);
  esp_sa *sa = get_sa(env, argv[0]);
  uint8_t *buf;
  size_t len;
  int32_t off, payload, nh, ivr;
  if (!sa || gdoi_get_u8(env, argv[1], &buf, &len) || gdoi_get_i32(env, argv[2], &off) ||
      gdoi_get_i32(env, argv[3], &payload) || gdoi_get_i32(env, argv[4], &nh) || gdoi_get_i32(env, argv[5], &ivr)) return NULL;
  if (off < 0 || (size_t)off > len || nh < 0 || nh > 255) return gdoi_int(env, R_ROOM);
  return gdoi_int(env, seal(sa, buf + off, len - (size_t)off, payload, nh, ivr));
}

// espOpen(handle, buf, espOffset, espBytes) → inner length + 65536 × next header | negative code
static napi_value EspOpen(napi_env env, napi_callback_info info) {
  ARGS(env, info, 4);
  esp_sa *sa = get_sa(env, argv[0]);
  uint8_t *buf;
  size_t len;
  int32_t off, n;
  if (!sa || gdoi_get_u8(env, argv[1], &buf, &len) || gdoi_get_i32(env, argv[2], &off) || gdoi_get_i32(env, argv[3], &n))
    return NULL;
  if (off < 0 || n < 0 || (size_t)off + (size_t)n > len) return gdoi_int(env, R_MALFORMED);
  return gdoi_int(env, open_esp(sa, buf + off, n));
}

// espSealBatch(handle, slab, espOffsets: Int32Array, payloadBytes: Int32Array (in: payload, out: ESP length
// or negative code), count, nextHeader, ivRandom) → count. One crossing for many packets of one SA.
static napi_value EspSealBatch(napi_env env, napi_callback_info info) {
  ARGS(env, info, 7);
  esp_sa *sa = get_sa(env, argv[0]);
  uint8_t *buf;
  size_t len, no, nl;
  int32_t *offs, *lens, count, nh, ivr;
  if (!sa || gdoi_get_u8(env, argv[1], &buf, &len) || gdoi_get_i32array(env, argv[2], &offs, &no) ||
      gdoi_get_i32array(env, argv[3], &lens, &nl) || gdoi_get_i32(env, argv[4], &count) ||
      gdoi_get_i32(env, argv[5], &nh) || gdoi_get_i32(env, argv[6], &ivr)) return NULL;
  if (count < 0 || (size_t)count > no || (size_t)count > nl || nh < 0 || nh > 255) return gdoi_int(env, -1);
  for (int32_t i = 0; i < count; i++) {
    int32_t off = offs[i];
    lens[i] = off < 0 || (size_t)off > len ? R_ROOM : seal(sa, buf + off, len - (size_t)off, lens[i], nh, ivr);
  }
  return gdoi_int(env, count);
}

// espOpenBatch(handle, slab, espOffsets, espBytes (in: ESP length, out: result as espOpen), count) → count
static napi_value EspOpenBatch(napi_env env, napi_callback_info info) {
  ARGS(env, info, 5);
  esp_sa *sa = get_sa(env, argv[0]);
  uint8_t *buf;
  size_t len, no, nl;
  int32_t *offs, *lens, count;
  if (!sa || gdoi_get_u8(env, argv[1], &buf, &len) || gdoi_get_i32array(env, argv[2], &offs, &no) ||
      gdoi_get_i32array(env, argv[3], &lens, &nl) || gdoi_get_i32(env, argv[4], &count)) return NULL;
  if (count < 0 || (size_t)count > no || (size_t)count > nl) return gdoi_int(env, -1);
  for (int32_t i = 0; i < count; i++) {
    int32_t off = offs[i], n = lens[i];
    lens[i] = off < 0 || n < 0 || (size_t)off + (size_t)n > len ? R_MALFORMED : open_esp(sa, buf + off, n);
  }
  return gdoi_int(env, count);
}

napi_status gdoi_esp_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"espNew", NULL, EspNew, NULL, NULL, NULL, PROP_FLAGS, NULL},
    {"espFree", NULL, EspFree, NULL, NULL, NULL, PROP_FLAGS, NULL},
    {"espSeal", NULL, EspSeal, NULL, NULL, NULL, PROP_FLAGS, NULL},
    {"espOpen", NULL, EspOpen, NULL, NULL, NULL, PROP_FLAGS, NULL},
    {"espSealBatch", NULL, EspSealBatch, NULL, NULL, NULL, PROP_FLAGS, NULL},
    {"espOpenBatch", NULL, EspOpenBatch, NULL, NULL, NULL, PROP_FLAGS, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
