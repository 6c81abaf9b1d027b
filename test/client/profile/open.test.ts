/** Creating and opening a whole profile (client/profile/open.ts). */
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { utf8 } from "../../../crypto/bytes.js";
import { seededRng } from "../../../crypto/rng.js";
import { createProfile, openProfile } from "../../../client/profile/open.js";
import {
  PassphraseRequiredError,
  ProfileExistsError,
  ProfileNotFoundError,
  WrongPassphraseError,
} from "../../../client/profile/errors.js";
import { StoreKeyMismatchError } from "../../../client/store/index.js";
import { caught, profileBytes, tempDir } from "../store/helpers.js";

const FAST = { t: 1, memKiB: 8 };
const rng = (n = 1) => seededRng(utf8(`open profile test rng ${n}`));

describe("createProfile / openProfile", () => {
  test("a passphrase-protected profile: wrong passphrase is one clear error and nothing changes", () => {
    const dir = join(tempDir(), "profiles", "default");
    const store = createProfile(dir, rng(), "s3cret", { keystore: { params: FAST } });
    store.chats.upsert({ id: 1, kind: "group", name: "kept", myRole: "admin" });
    store.close();
    const before = profileBytes(dir);

    const err = caught(() => openProfile(dir, "wrong"));
    expect(err).toBeInstanceOf(WrongPassphraseError);
    expect((err as WrongPassphraseError).code).toBe("WRONG_PASSPHRASE");
    expect(() => openProfile(dir)).toThrow(PassphraseRequiredError);
    expect(profileBytes(dir).equals(before)).toBe(true);

    const again = openProfile(dir, "s3cret");
    expect(again.chats.get(1)!.name).toBe("kept");
    again.close();
  });

  test("creating over an existing profile is refused; a missing one is PROFILE_NOT_FOUND", () => {
    const dir = tempDir();
    createProfile(dir, rng()).close();
    expect(() => createProfile(dir, rng(2))).toThrow(ProfileExistsError);
    openProfile(dir).close();
    expect(() => openProfile(tempDir())).toThrow(ProfileNotFoundError);
  });

  test("a store left from another key: STORE_KEY_MISMATCH, and the new key.json is not left behind", () => {
    const dir = tempDir();
    createProfile(dir, rng()).close();
    rmSync(join(dir, "key.json"));
    expect(() => createProfile(dir, rng(2))).toThrow(StoreKeyMismatchError);
    expect(existsSync(join(dir, "key.json"))).toBe(false);
  });
});
