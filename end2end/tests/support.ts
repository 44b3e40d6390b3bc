import { expect, test, type Page } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";

/** One demo sign-in, as written by `stackbill demo-seed --credentials-file`. */
export interface Credential {
  role: "operator" | "finance" | "customer";
  email: string;
  password: string;
  customer?: string;
}

/** The demo sign-ins of the seeded database the server under test runs on. */
export function credentials(): Credential[] {
  const file = process.env.STACKBILL_E2E_CREDENTIALS;
  if (!file) throw new Error("STACKBILL_E2E_CREDENTIALS is not set (run the suite through .ci/test)");
  return JSON.parse(fs.readFileSync(file, "utf8")) as Credential[];
}

export function credential(role: Credential["role"]): Credential {
  const found = credentials().find((c) => c.role === role);
  if (!found) throw new Error(`no demo ${role} sign-in`);
  return found;
}

/** Where screenshots of every page visited are kept as test artifacts. */
const ARTIFACTS = process.env.STACKBILL_E2E_ARTIFACTS ?? path.join(__dirname, "..", "artifacts");

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Waits until the page is interactive (the app sets data-hydrated once hydrated). */
export async function hydrated(page: Page): Promise<void> {
  await expect(page.locator("#app")).toHaveAttribute("data-hydrated", "true");
}

/** The sign-in page. */
export class SignInPage {
  constructor(private readonly page: Page) {}

  async open(): Promise<void> {
    await this.page.goto("/sign-in");
    await hydrated(this.page);
  }

  async signIn(email: string, password: string): Promise<void> {
    await this.page.getByLabel("Email").fill(email);
    await this.page.getByLabel("Password").fill(password);
    await this.page.getByRole("button", { name: "Sign in" }).click();
  }

  error() {
    return this.page.getByTestId("sign-in-error");
  }
}

/** The signed-in layout: navigation and user menu. */
export class Shell {
  constructor(private readonly page: Page) {}

  navLinks() {
    return this.page.locator("nav.mainnav a");
  }

  userName() {
    return this.page.getByTestId("user-name");
  }

  async signOut(): Promise<void> {
    await this.page.getByTestId("sign-out").click();
  }
}

/** Signs in as the demo user of a role and waits for its home page. */
export async function signInAs(page: Page, role: Credential["role"]): Promise<void> {
  const who = credential(role);
  const form = new SignInPage(page);
  await form.open();
  await form.signIn(who.email, who.password);
  const home = { operator: /\/operator$/, finance: /\/finance$/, customer: /\/portal$/ }[role];
  await expect(page).toHaveURL(home);
}

/**
 * Fails each test of the enclosing `describe` that logs a browser error (other than the
 * 4xx answers the journeys provoke on purpose) or throws in the page.
 */
export function failOnConsoleErrors(): void {
  let errors: string[] = [];
  test.beforeEach(async ({ page }) => {
    errors = [];
    page.on("console", (msg) => {
      const expected = /Failed to load resource: the server responded with a status of (400|401|403|404|409|422)/;
      if (msg.type() === "error" && !expected.test(msg.text())) errors.push(msg.text());
    });
    page.on("pageerror", (err) => errors.push(err.message));
  });
  test.afterEach(() => {
    expect(errors, errors.join("\n")).toEqual([]);
  });
}
