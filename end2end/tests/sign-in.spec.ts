import { expect, test } from "@playwright/test";
import { credential, hydrated, screenshot, Shell, SignInPage } from "./support";

test.describe("signing in as each demo user", () => {
  // No console errors on any page: a Content-Security-Policy violation (a blocked inline
  // script, wasm or style) is reported there, so this catches a policy that breaks the app.
  let consoleErrors: string[] = [];
  test.beforeEach(async ({ page }) => {
    consoleErrors = [];
    page.on("console", (msg) => {
      // The pages that deliberately answer 401/403/404 log a "failed to load" line.
      const expected = /Failed to load resource: the server responded with a status of (401|403|404)/;
      if (msg.type() === "error" && !expected.test(msg.text())) {
        consoleErrors.push(msg.text());
      }
    });
    page.on("pageerror", (err) => consoleErrors.push(err.message));
  });
  test.afterEach(() => {
    expect(consoleErrors, consoleErrors.join("\n")).toEqual([]);
  });

  test("the operator lands on the operations overview with figures from the database", async ({ page }) => {
    const op = credential("operator");
    const signIn = new SignInPage(page);
    await signIn.open();
    await screenshot(page, "sign-in");
    await signIn.signIn(op.email, op.password);

    await expect(page).toHaveURL(/\/operator$/);
    await expect(page.getByRole("heading", { name: "Operations overview" })).toBeVisible();
    const shell = new Shell(page);
    await expect(shell.navLinks()).toHaveText(["Overview", "Customers", "User subscriptions", "Billing periods", "Invoices", "Meters", "Price sheets", "Users", "Audit log", "API"]);
    // The demo's six customers, plus any an earlier journey created: the figure is the
    // database's count, as the API reports it.
    const customers = await (await page.request.get("/api/v1/customers?limit=1")).json();
    expect(customers.total).toBeGreaterThanOrEqual(6);
    await expect(page.getByTestId("stat-customers").locator(".stat-value")).toHaveText(String(customers.total));
    await expect(page.getByTestId("stat-mapped")).toContainText("4");
    await expect(page.getByTestId("registrations-table")).toContainText("azs-northwest");
    // Money from the rating service: every billing account (four customer subscriptions
    // and the base) and every customer, in the viewer's format.
    await expect(page.getByTestId("cost-accounts").locator("tbody tr")).toHaveCount(5);
    await expect(page.getByTestId("cost-customers").locator("tbody tr")).toHaveCount(6);
    await expect(page.getByTestId("cost-accounts")).toContainText(/USD\u00a0\d[\d,]*\.\d\d/);
    await hydrated(page);
    await screenshot(page, "operator-overview");

    await shell.navLinks().filter({ hasText: "Meters" }).click();
    await expect(page).toHaveURL(/\/meters$/);
    await expect(page.getByTestId("meters-table")).toContainText("Base VM Size Hours");
    await screenshot(page, "operator-meters");

    await shell.signOut();
    await expect(page).toHaveURL(/\/sign-in$/);
    // The session is gone on the server: the overview sends us back to sign in.
    await page.goto("/operator");
    await expect(page).toHaveURL(/\/sign-in/);
  });

  test("finance lands on the billing periods", async ({ page }) => {
    const fin = credential("finance");
    const signIn = new SignInPage(page);
    await signIn.open();
    await signIn.signIn(fin.email, fin.password);

    await expect(page).toHaveURL(/\/finance$/);
    await expect(page.getByRole("heading", { name: "Billing periods" })).toBeVisible();
    await expect(new Shell(page).navLinks()).toHaveText(["Overview", "Invoices", "Customers", "User subscriptions", "Meters", "Price sheets", "Users", "Audit log", "API"]);
    await expect(page.getByTestId("periods-table").locator("tbody tr")).not.toHaveCount(0);
    await expect(page.getByTestId("cost-accounts").locator("tbody tr")).toHaveCount(5);
    await hydrated(page);
    await screenshot(page, "finance-periods");

    // Finance is not an operator: the operations overview answers "no access".
    await page.goto("/operator");
    await expect(page.getByTestId("error-panel")).toHaveAttribute("data-code", "forbidden");
    await screenshot(page, "finance-forbidden");

    await new Shell(page).signOut();
    await expect(page).toHaveURL(/\/sign-in$/);
  });

  test("a customer user sees only their own portal", async ({ page }) => {
    const cust = credential("customer");
    const signIn = new SignInPage(page);
    await signIn.open();
    await signIn.signIn(cust.email, cust.password);

    await expect(page).toHaveURL(/\/portal$/);
    await expect(page.getByTestId("customer-name")).toHaveText(cust.customer!);
    await expect(new Shell(page).navLinks()).toHaveText(["Overview", "Usage and cost", "API"]);
    await expect(page.getByTestId("user-subscriptions").locator("tbody tr")).toHaveCount(2);
    // Its own cost only: one billing account, last month's total in money.
    await expect(page.getByTestId("portal-cost").getByTestId("cost-accounts").locator("tbody tr")).toHaveCount(1);
    await expect(page.getByTestId("cost-last-month")).toContainText(/USD\u00a0\d[\d,]*\.\d\d/);
    await hydrated(page);
    await screenshot(page, "customer-portal");

    for (const path of ["/operator", "/finance", "/meters"]) {
      const response = await page.goto(path);
      expect(response?.status(), path).toBe(403);
      await expect(page.getByTestId("error-panel")).toBeVisible();
    }

    await new Shell(page).signOut();
    await expect(page).toHaveURL(/\/sign-in$/);
  });

  test("a wrong password is refused with a message and no session", async ({ page }) => {
    const signIn = new SignInPage(page);
    await signIn.open();
    await signIn.signIn("operator@demo.stackbill.test", "not the password");
    await expect(signIn.error()).toHaveText("The email or password is not correct.");
    await screenshot(page, "sign-in-error");
    await page.goto("/operator");
    await expect(page).toHaveURL(/\/sign-in/);
  });

  test("an unknown address shows the not-found page with status 404", async ({ page }) => {
    const response = await page.goto("/no-such-page");
    expect(response?.status()).toBe(404);
    await expect(page.getByTestId("not-found")).toBeVisible();
    await screenshot(page, "not-found");
  });
});
