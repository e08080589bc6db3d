import { tool } from 'ai';
import { z } from 'zod';
import type { World } from './world.js';

/** The policy's names for the SDK's tool keys (providers refuse dots in tool names, the policy uses them). */
export const TOOL_NAMES = {
  searchCompanies: 'companies.search',
  getCompany: 'companies.get',
  fetchWebsite: 'web.fetch',
  updateLead: 'crm.update',
  deleteLead: 'crm.delete',
} as const;

/** The app's tools, as it would write them for the AI SDK with or without Bounded. */
export function leadTools(world: World) {
  return {
    searchCompanies: tool({
      description: 'Search the company directory by name',
      inputSchema: z.object({ query: z.string(), page: z.number().int().min(1).default(1) }),
      execute: async ({ query, page }) => {
        world.ran('companies.search');
        const hits = [...world.companies.values()].filter(c => c.name.toLowerCase().includes(query.toLowerCase()));
        return { page, hits: hits.map(c => ({ id: c.id, name: c.name })) };
      },
    }),
    getCompany: tool({
      description: 'Get a company profile by id',
      inputSchema: z.object({ id: z.string() }),
      execute: async ({ id }) => {
        world.ran('companies.get');
        return world.companies.get(id) ?? { error: `no company ${id}` };
      },
    }),
    fetchWebsite: tool({
      description: "Fetch the text of a company's website",
      inputSchema: z.object({ domain: z.string(), path: z.string().default('/') }),
      execute: async ({ domain, path }) => {
        world.ran('web.fetch');
        return { url: `https://${domain}${path}`, text: world.pages.get(domain) ?? '' };
      },
    }),
    updateLead: tool({
      description: 'Write enrichment data onto a CRM lead',
      inputSchema: z.object({ leadId: z.string(), employees: z.number().int(), industry: z.string() }),
      execute: async ({ leadId, employees, industry }) => {
        world.ran('crm.update');
        const lead = world.leads.get(leadId);
        if (!lead) throw new Error(`no lead ${leadId}`);
        Object.assign(lead, { employees, industry });
        return { ...lead };
      },
    }),
    deleteLead: tool({
      description: 'Delete a CRM lead',
      inputSchema: z.object({ leadId: z.string() }),
      execute: async ({ leadId }) => {
        world.ran('crm.delete');
        world.leads.delete(leadId);
        return { deleted: leadId };
      },
    }),
  };
}
