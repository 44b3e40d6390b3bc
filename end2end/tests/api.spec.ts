import SwaggerParser from "@apidevtools/swagger-parser";
import { expect, test } from "@playwright/test";
import { failOnConsoleErrors, hydrated, screenshot, signInAs } from "./support";

const METHODS = ["get", "post", "put", "delete", "patch"];

test.describe("the API reference", () => {
  failOnConsoleErrors();

  test("the OpenAPI document validates as OpenAPI 3.1, and the API page shows every operation of it", async ({
    page,
    request,
  }) => {
    // Public, like any published API description.
    const answer = await request.get("/api/openapi.json");
    expect(answer.status()).toBe(200);
    const doc = await answer.json();
    expect(doc.openapi).toBe("3.1.0");
    // An independent validator: the OpenAPI 3.1 schema, then its rules (unique operation
    // ids, path parameters declared and required, references that resolve).
    await SwaggerParser.validate(structuredClone(doc));
    const operations: { id: string; method: string; path: string }[] = [];
    for (const [path, item] of Object.entries<Record<string, { operationId: string }>>(doc.paths)) {
      for (const m of METHODS) {
        if (item[m]) operations.push({ id: item[m].operationId, method: m.toUpperCase(), path });
      }
    }
    expect(operations.length).toBeGreaterThanOrEqual(50);
    expect(operations.every((o) => o.path.startsWith("/api/v1/"))).toBe(true);

    // A customer reads it from the navigation (their tokens use the same API).
    await signInAs(page, "customer");
    await page.locator("nav.mainnav a", { hasText: "API" }).click();
    await expect(page).toHaveURL(/\/api-reference$/);
    await hydrated(page);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("API reference");
    await expect(page.getByTestId("api-operation")).toHaveCount(operations.length);
    await expect(page.getByTestId("api-schema")).toHaveCount(Object.keys(doc.components.schemas).length);
    // Each operation under its anchor, with its method and path.
    for (const o of operations) {
      const op = page.locator(`article[id="${o.id}"]`);
      await expect(op.locator(".api-method")).toHaveText(o.method);
      await expect(op.locator(".api-path")).toHaveText(o.path);
    }
    // A type links to its schema.
    const usage = page.locator('article[id="customer_usage"]');
    await expect(usage).toContainText("tag");
    await usage.getByRole("link", { name: "UsageBody" }).click();
    await expect(page).toHaveURL(/#schema-UsageBody$/);
    await expect(page.locator("#schema-UsageBody")).toContainText("nextLink");
    await expect(page.getByTestId("openapi-download")).toHaveAttribute("href", "/api/openapi.json");
    await screenshot(page, "api-reference");
  });
});
