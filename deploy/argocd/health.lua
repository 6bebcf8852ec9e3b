-- Argo CD health of every hostplane.dev kind (Lua 5.1, as Argo CD runs it).
--
-- hostplane writes kstatus conditions on every kind: Ready, Synced, Stalled, Reconciling,
-- and status.observedGeneration. This reads them the way kstatus does, in Argo CD's words:
--   Progressing  no status yet, a generation not observed yet, Reconciling=True (provisioning,
--                waiting for a panel task, retrying a transient error), or no Ready condition
--   Degraded     Stalled=True (only a change of the spec can help), or Ready=False with no
--                work in progress
--   Suspended    paused (hostplane.dev/paused), or a service suspended (phase Suspended)
--   Healthy      Ready=True
-- tests/argocd.rs runs this file with lua5.1 against status objects of each phase.
local hs = {}

local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function said(c, fallback)
  if c == nil then
    return fallback
  end
  local reason = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    return reason .. ": " .. c.message
  end
  return reason
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to observe generation " .. generation
  return hs
end

local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = said(stalled, "Stalled")
  return hs
end

local annotations = obj.metadata and obj.metadata.annotations
if annotations ~= nil and annotations["hostplane.dev/paused"] == "true" then
  hs.status = "Suspended"
  hs.message = "Paused (hostplane.dev/paused): no change is made at the panel"
  return hs
end

if obj.status.phase == "Suspended" then
  hs.status = "Suspended"
  hs.message = said(condition("Ready"), "Suspended")
  return hs
end

local ready = condition("Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = said(ready, "Ready")
  return hs
end

local reconciling = condition("Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = said(reconciling, "Reconciling")
  return hs
end

if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = said(ready, "Not ready")
  return hs
end

hs.status = "Progressing"
hs.message = said(ready, "Waiting for the Ready condition")
return hs
